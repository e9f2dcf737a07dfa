using System.Text.Json;
using System.Text.RegularExpressions;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// Workers' stdout and stderr through the primary: two workers print long lines in 64-byte writes at the same time
/// (the test app's /print), and every line reaches the primary's output whole, marked with the worker that printed it.
/// </summary>
public sealed partial class WorkerOutputTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Lines_printed_at_once_by_two_workers_arrive_whole_and_prefixed_with_their_worker()
    {
        const int lines = 200;
        const int length = 3000;
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 2);
        var pids = await PrintOnBothWorkersAsync(cluster, lines, length);
        var ids = await WorkerIdsAsync(cluster);

        var printed = cluster.Lines.Where(line => line.Contains(" print ", StringComparison.Ordinal)).ToList();
        foreach (var pid in pids)
        {
            var numbers = new List<int>();
            foreach (var line in printed.Where(line => line.Contains($"] print {pid} ", StringComparison.Ordinal)))
            {
                var match = TextLine().Match(line);
                Assert.True(match.Success, $"a mixed or damaged line: {line[..Math.Min(line.Length, 200)]}");
                Assert.Equal((ids[pid], pid), (int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value)));
                Assert.Equal(length, match.Groups[3].Length);
                numbers.Add(int.Parse(match.Groups[4].Value));
            }

            Assert.Equal(Enumerable.Range(0, lines), numbers.Order());
        }

        Assert.Equal(2 * lines, printed.Count);
    }

    [Fact]
    public async Task In_json_mode_every_line_of_the_primary_is_a_json_object()
    {
        const int lines = 20;
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__LogFormat"] = "Json" });
        var pids = await PrintOnBothWorkersAsync(cluster, lines, 300);
        var ids = await WorkerIdsAsync(cluster);

        var fromWorkers = 0;
        foreach (var line in cluster.Lines)
        {
            using var document = JsonDocument.Parse(line);
            var record = document.RootElement;
            if (!record.TryGetProperty("worker", out var worker))
            {
                // The primary's own log, through the JSON console formatter.
                Assert.True(record.TryGetProperty("Category", out _), line);
                continue;
            }

            var pid = record.GetProperty("pid").GetInt32();
            Assert.Equal(ids[pid], worker.GetInt32());
            Assert.True(record.TryGetProperty("timestamp", out _), line);
            var text = record.GetProperty("line").GetString()!;
            if (PrintedLine().Match(text) is { Success: true } match)
            {
                Assert.Equal(pid, int.Parse(match.Groups[1].Value));
                Assert.Equal(match.Groups[2].Value, record.GetProperty("stream").GetString());
                fromWorkers++;
            }
        }

        Assert.Equal(pids.Count * lines, fromWorkers);
        Assert.Contains(cluster.Lines, line => line.Contains("\"Category\":\"ProcessCluster", StringComparison.Ordinal));
    }

    /// <summary>Makes both workers print at the same time; returns their pids once every line has reached the primary.</summary>
    private static async Task<IReadOnlyCollection<int>> PrintOnBothWorkersAsync(TestCluster cluster, int lines, int length)
    {
        using var client = new AppClient(cluster.BaseAddress, Deadline);

        // Round robin: new connections alternate between the two workers, so both print at once.
        var answers = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => client.GetAsync($"/print/{lines}/{length}")));
        var pids = answers.Select(answer => int.Parse(answer["printed in ".Length..])).ToHashSet();
        Assert.Equal(2, pids.Count);
        await Poll.UntilAsync(
            () => pids.All(pid => cluster.CountLines($"print {pid} ") >= lines), Deadline, "every printed line", () => string.Join('\n', cluster.Lines.TakeLast(5)));
        return pids;
    }

    /// <summary>Worker id by pid, from the primary's status.</summary>
    private static async Task<Dictionary<int, int>> WorkerIdsAsync(TestCluster cluster) =>
        (await cluster.StatusAsync()).Workers.ToDictionary(worker => worker.Pid, worker => worker.Id);

    [GeneratedRegex(@"^\[worker (\d+) pid (\d+)\] (print \2 (\d+) (?:stdout|stderr) x+)$")]
    private static partial Regex TextLine();

    [GeneratedRegex(@"^print (\d+) \d+ (stdout|stderr) x+$")]
    private static partial Regex PrintedLine();
}
