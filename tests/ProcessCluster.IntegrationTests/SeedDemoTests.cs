namespace ProcessCluster.IntegrationTests;

/// <summary>The README's first command: the seed's demo, run as a cluster with the default settings, serves the seed's routes.</summary>
public class SeedDemoTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_demo_answers_from_two_workers_by_default_and_replaces_the_one_kill_process_ends()
    {
        // The defaults start MinWorkers: 2 where the machine has 2 CPUs or more, as Node's demo forks one per CPU.
        var expected = new ClusterOptions().MinWorkers;
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: null, app: TestCluster.SeedDemoAssembly);
        var workers = await cluster.WaitForReadyPidsAsync(pids => pids.Count == expected, $"the {expected} workers the defaults start", Deadline);
        Assert.Equal(expected, (await cluster.StatusAsync()).DesiredWorkers);
        // A lean primary: its secrets come from getrandom(2), so a plain-HTTP primary never maps OpenSSL (3.4 MiB resident).
        Assert.DoesNotContain("libcrypto", File.ReadAllText($"/proc/{cluster.PrimaryPid}/maps"), StringComparison.Ordinal);
        using var client = new AppClient(cluster.BaseAddress);

        // The first two requests, each on a new connection, come from two processes.
        var first = int.Parse((await client.GetAsync("/"))["response from: ".Length..]);
        var second = await client.HelloPidAsync();
        Assert.Subset(workers.ToHashSet(), new HashSet<int> { first, second });
        Assert.Equal(Math.Min(expected, 2), new[] { first, second }.Distinct().Count());

        var answer = await client.GetAsync("/kill-process");
        var victim = int.Parse(answer.Split(' ')[1]);
        Assert.Equal($"process: {victim} died", answer);
        Assert.Contains(victim, workers);
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == expected && !pids.Contains(victim), "a replacement", Deadline);
    }
}
