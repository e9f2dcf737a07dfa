using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using ProcessCluster.Primary;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The Node-style API from the primary's side, with this test process as the primary and the test app as the worker
/// program (Node's test-cluster-basic, -fork-env, -worker-kill and -worker-disconnect, on real processes).
/// </summary>
public sealed class NodeStyleApiTests : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    private readonly ClusterPrimary _primary;
    private readonly ConcurrentQueue<string> _events = new();
    private readonly ConcurrentDictionary<int, WorkerExitedEventArgs> _exits = new();
    private readonly ConcurrentDictionary<int, int> _pids = new();

    public NodeStyleApiTests()
    {
        var options = new ClusterOptions { Workers = 1, DrainTimeout = TimeSpan.FromSeconds(10) };
        // Workers run the test app with the same URLs the primary opens, as a primary that forks itself would.
        _primary = new ClusterPrimary(options, NullLoggerFactory.Instance, new WorkerCommand("/usr/bin/env", ["env", "dotnet", TestCluster.TestAppAssembly, "--urls=http://127.0.0.1:0"]));
        _primary.Forked += (_, e) => Record("fork", e.Worker);
        _primary.Online += (_, e) => Record("online", e.Worker);
        _primary.Listening += (_, e) => Record($"listening {e.Address}", e.Worker);
        _primary.Disconnected += (_, e) => Record("disconnect", e.Worker);
        _primary.Exited += (_, e) =>
        {
            _exits[e.Worker.Id] = e;
            Record("exit", e.Worker);
        };
        _primary.Start(ClusterEndpoint.ParseUrls(["http://127.0.0.1:0"]));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var pid in _pids.Values)
        {
            ProcessTree.Kill(pid);
        }

        await _primary.DisposeAsync();
    }

    [Fact]
    public async Task Events_come_in_order_and_ids_start_at_one_and_are_never_reused()
    {
        var first = await ReadyWorkerAsync(1);
        Assert.Equal(WorkerState.Ready, first.State);
        Assert.Equal(["1 fork", "1 online", $"1 listening http://127.0.0.1:{new Uri(_primary.Urls[0]).Port}"], EventsOf(1));

        first.Kill(9);
        var exit = await ExitOfAsync(1);
        Assert.Equal("SIGKILL", exit.Signal);
        Assert.Null(exit.ExitCode);
        Assert.False(exit.StopRequested);
        Assert.True(first.IsDead);

        // The replacement is a new worker with a new id; the dead one has left the set.
        var replacement = await ReadyWorkerAsync(2);
        Assert.Equal([2], _primary.Workers.Select(worker => worker.Id));
        Assert.NotEqual(first.ProcessId, replacement.ProcessId);
    }

    [Fact]
    public async Task Sigterm_to_a_worker_is_a_graceful_exit_in_dotnet_and_the_worker_is_replaced()
    {
        // Unlike Node, a .NET host handles SIGTERM: it drains and exits 0. It was not asked for, so it is replaced.
        var first = await ReadyWorkerAsync(1);
        first.Kill();
        var exit = await ExitOfAsync(1);
        Assert.Equal(0, exit.ExitCode);
        Assert.Null(exit.Signal);
        Assert.False(exit.StopRequested);
        await ReadyWorkerAsync(2);
    }

    [Fact]
    public async Task Fork_passes_extra_environment_that_wins_over_the_primarys()
    {
        await ReadyWorkerAsync(1);
        var extra = _primary.Fork(new Dictionary<string, string> { ["GREETING"] = "from the test", ["PATH"] = Environment.GetEnvironmentVariable("PATH") + ":/extra" });
        Assert.Equal(2, extra.Id);
        await ReadyWorkerAsync(2);

        var environment = ProcessTree.Environment(extra.ProcessId);
        Assert.Equal("from the test", environment["GREETING"]);
        Assert.EndsWith(":/extra", environment["PATH"]);
        Assert.Equal("2", environment["PROCESSCLUSTER_WORKER_ID"]);
    }

    [Fact]
    public async Task Disconnect_is_a_requested_graceful_stop_and_the_worker_is_not_replaced()
    {
        var worker = await ReadyWorkerAsync(1);
        worker.Disconnect();
        var exit = await ExitOfAsync(1);

        Assert.True(exit.StopRequested);
        Assert.Equal(0, exit.ExitCode);
        Assert.Contains("1 disconnect", EventsOf(1));

        // A replacement would be forked RestartDelay (100 ms) after the exit; a worker forked now takes longer than
        // that to be ready. So once it is, the only forks were the first worker and this one.
        var later = _primary.Fork();
        await ReadyWorkerAsync(later.Id);
        Assert.Equal([1, later.Id], _events.Where(entry => entry.EndsWith(" fork", StringComparison.Ordinal)).Select(entry => int.Parse(entry.Split(' ')[0])));
        Assert.Equal([later.Id], _primary.Workers.Select(worker => worker.Id));
    }

    [Fact]
    public async Task A_message_sent_with_source_generated_json_arrives_and_is_answered()
    {
        var replies = new ConcurrentQueue<JsonElement>();
        _primary.Message += (_, e) => replies.Enqueue(e.Message);
        var worker = await ReadyWorkerAsync(1);

        // The overload for trimmed and native AOT primaries; the test app's worker answers {reply: <message>, pid}.
        worker.Send(new Ping("typed", 7), MessagesJson.Default.Ping);
        await Poll.UntilAsync(() => replies.Any(reply => reply.GetProperty("reply").TryGetProperty("text", out _)), Deadline, "the worker's answer");
        var answer = replies.First(reply => reply.GetProperty("reply").TryGetProperty("text", out _));
        Assert.Equal("typed", answer.GetProperty("reply").GetProperty("text").GetString());
        Assert.Equal(7, answer.GetProperty("reply").GetProperty("count").GetInt32());
        Assert.Equal(worker.ProcessId, answer.GetProperty("pid").GetInt32());
    }

    [Fact]
    public async Task Stop_returns_when_every_worker_has_exited()
    {
        var worker = await ReadyWorkerAsync(1);
        await _primary.StopAsync(CancellationToken.None);

        Assert.True(worker.IsDead);
        Assert.False(ProcessTree.IsAlive(worker.ProcessId));
        Assert.Equal(0, (await ExitOfAsync(1)).ExitCode);
    }

    private void Record(string what, WorkerHandle worker)
    {
        _pids[worker.Id] = worker.ProcessId;
        _events.Enqueue($"{worker.Id} {what}");
    }

    private List<string> EventsOf(int id) => _events.Where(entry => entry.StartsWith($"{id} ", StringComparison.Ordinal)).ToList();

    private async Task<WorkerHandle> ReadyWorkerAsync(int id)
    {
        await Poll.UntilAsync(() => _primary.Workers.Any(worker => worker.Id == id && worker.State == WorkerState.Ready), Deadline, $"worker {id} ready");
        return _primary.Workers.Single(worker => worker.Id == id);
    }

    private async Task<WorkerExitedEventArgs> ExitOfAsync(int id)
    {
        await Poll.UntilAsync(() => _exits.ContainsKey(id), Deadline, $"exit of worker {id}");
        return _exits[id];
    }
}
