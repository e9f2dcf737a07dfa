using System.Text.Json;
using ProcessCluster.Primary;

namespace ProcessCluster.IntegrationTests.NodeParity;

/// <summary>
/// Node's test-cluster-* files on a worker's life (events, state, exit reporting, messages, environment), each named
/// after its file, on real processes with this test process as the primary. Research notes: node-cluster.md §3.
/// </summary>
public class LifecycleParityTests
{
    /// <summary>One worker, and a restart delay longer than any test, so a death leaves no replacement to wait for.</summary>
    private static ClusterOptions OneWorkerNotRestarted() => new()
    {
        Workers = 1,
        DrainTimeout = TimeSpan.FromSeconds(10),
        RestartDelay = TimeSpan.FromMinutes(5),
        MaxRestartDelay = TimeSpan.FromMinutes(5),
    };

    // Node asserts: fork, online and listening fire once each, in that order, the first id is 1, and 'listening' has the real address.
    [Fact]
    public async Task test_cluster_basic()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1 });
        var first = await cluster.ReadyWorkerAsync(1);
        Assert.Equal(WorkerState.Ready, first.State);
        Assert.Equal(["fork", "online", $"listening http://127.0.0.1:{cluster.BaseAddress.Port}"], cluster.EventsOf(1));

        // Beyond Node, which never restarts: the replacement is a new worker with a new id; the dead one has left the set.
        first.Kill(9);
        await cluster.ExitOfAsync(1);
        var replacement = await cluster.ReadyWorkerAsync(2);
        Assert.Equal([2], cluster.Primary.Workers.Select(worker => worker.Id));
        Assert.NotEqual(first.ProcessId, replacement.ProcessId);
    }

    // Node asserts: worker.isDead() is false after fork and true by 'exit'; isConnected() is false after 'disconnect'.
    [Fact]
    public async Task test_cluster_worker_isdead()
    {
        await using var cluster = await ParityCluster.StartAsync(OneWorkerNotRestarted());
        var worker = await cluster.ReadyWorkerAsync(1);
        Assert.False(cluster.Single(1, "fork").IsDead);
        Assert.True(cluster.Single(1, "online").IsConnected);

        worker.Kill(9);
        await cluster.EndOfAsync(worker);
        Assert.True(cluster.Single(1, "exit").IsDead);
        Assert.False(cluster.Single(1, "disconnect").IsConnected);
        Assert.True(worker.IsDead);
        Assert.False(worker.IsConnected);
    }

    // Node asserts: exit(42) after listening gives one 'disconnect' and one 'exit', code 42, signal null,
    // exitedAfterDisconnect false, and the pid really gone (test-cluster-worker-death and -worker-exit).
    [Fact]
    public async Task test_cluster_worker_exit()
    {
        await using var cluster = await ParityCluster.StartAsync(OneWorkerNotRestarted());
        var worker = await cluster.ReadyWorkerAsync(1);
        using var client = new AppClient(cluster.BaseAddress);
        Assert.Equal($"process: {worker.ProcessId} exits with 42", await client.GetAsync("/exit/42"));

        var exit = await cluster.EndOfAsync(worker);
        Assert.Same(worker, exit.Worker);
        Assert.Equal((42, null), (exit.ExitCode, exit.Signal));
        Assert.False(exit.StopRequested);
        Assert.False(cluster.Single(1, "disconnect").StopRequested);
    }

    // Node asserts: worker.process.kill('SIGKILL') gives exit code null, signal 'SIGKILL', one event of each, flag false, the process gone.
    [Fact]
    public async Task test_cluster_worker_kill()
    {
        await using var cluster = await ParityCluster.StartAsync(OneWorkerNotRestarted());
        var worker = await cluster.ReadyWorkerAsync(1);
        ProcessTree.Kill(worker.ProcessId, 9);

        var exit = await cluster.EndOfAsync(worker);
        Assert.Equal((null, "SIGKILL"), (exit.ExitCode, exit.Signal));
        Assert.False(exit.StopRequested);
    }

    // Node asserts: worker.kill('SIGKILL') from the primary is a plain signal: (null, 'SIGKILL'), flag false, one disconnect and one exit.
    // Differs on purpose for worker.kill() with no signal: SIGTERM is a graceful stop to a .NET host, so the worker
    // drains and exits 0 (Node's dies by the signal); it was not asked for by the cluster, so it is replaced.
    [Fact]
    public async Task test_cluster_worker_kill_signal()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1, DrainTimeout = TimeSpan.FromSeconds(10) });
        var first = await cluster.ReadyWorkerAsync(1);
        first.Kill();
        var graceful = await cluster.EndOfAsync(first);
        Assert.Equal((0, null), (graceful.ExitCode, graceful.Signal));
        Assert.False(graceful.StopRequested);

        var second = await cluster.ReadyWorkerAsync(2);
        second.Kill(9);
        var killed = await cluster.EndOfAsync(second);
        Assert.Equal((null, "SIGKILL"), (killed.ExitCode, killed.Signal));
        Assert.False(killed.StopRequested);
    }

    // Node asserts: a worker stuck in while(true) is still killed by worker.process.kill(), exiting by that signal.
    // Differs on purpose: a .NET host answers SIGTERM by waiting for the request in flight, so the spinning worker lives
    // on; SIGKILL is what ends it at once.
    [Fact]
    public async Task test_cluster_kill_infinite_loop()
    {
        await using var cluster = await ParityCluster.StartAsync(OneWorkerNotRestarted());
        var worker = await cluster.ReadyWorkerAsync(1);
        using var client = new AppClient(cluster.BaseAddress, TimeSpan.FromSeconds(60));
        var spinning = client.GetAsync("/spin/60000");
        await Poll.UntilAsync(() => worker.Dispatched == 1, ParityCluster.Deadline, "the spinning request handed to the worker");

        worker.Kill();
        // The worker's app tells the primary it is stopping, and still spins.
        await Poll.UntilAsync(() => worker.State == WorkerState.Draining, ParityCluster.Deadline, "the worker stopping");
        Assert.True(ProcessTree.IsAlive(worker.ProcessId));

        worker.Kill(9);
        var exit = await cluster.ExitOfAsync(1);
        Assert.Equal((null, "SIGKILL"), (exit.ExitCode, exit.Signal));
        // Its request is not answered: a connection the worker had not yet acknowledged waits in the primary for a
        // next worker, which this test never starts; closing the client ends the wait.
        client.Dispose();
        await Assert.ThrowsAnyAsync<Exception>(() => spinning);
    }

    // Node asserts: fork(env) variables reach the worker and override the primary's.
    [Fact]
    public async Task test_cluster_fork_env()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1 });
        await cluster.ReadyWorkerAsync(1);
        var extra = cluster.Primary.Fork(new Dictionary<string, string> { ["GREETING"] = "from the test", ["PATH"] = Environment.GetEnvironmentVariable("PATH") + ":/extra" });
        Assert.Equal(2, extra.Id);
        await cluster.ReadyWorkerAsync(2);

        var environment = ProcessTree.Environment(extra.ProcessId);
        Assert.Equal("from the test", environment["GREETING"]);
        Assert.EndsWith(":/extra", environment["PATH"]);
        Assert.Equal("2", environment["PROCESSCLUSTER_WORKER_ID"]);
    }

    // Node asserts: messages go both ways, and the primary's 'message' carries the worker that sent it.
    // Source-generated JSON here (the overload for trimmed and native AOT primaries); reflection JSON and the greeting
    // sent at 'online' (test-cluster-worker-init): ClusterCoreTests.Messages_go_both_ways_as_json_with_the_senders_identity.
    [Fact]
    public async Task test_cluster_message()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1 });
        var replies = new System.Collections.Concurrent.ConcurrentQueue<WorkerMessageEventArgs>();
        cluster.Primary.Message += (_, e) => replies.Enqueue(e);
        var worker = await cluster.ReadyWorkerAsync(1);

        // The test app's worker answers every message with {reply: <message>, pid}.
        worker.Send(new Ping("typed", 7), MessagesJson.Default.Ping);
        static bool IsPingReply(WorkerMessageEventArgs e) => e.Message.GetProperty("reply").TryGetProperty("text", out _);
        await Poll.UntilAsync(() => replies.Any(IsPingReply), ParityCluster.Deadline, "the worker's answer");
        var answer = replies.First(IsPingReply);
        Assert.Same(worker, answer.Worker);
        Assert.Equal("typed", answer.Message.GetProperty("reply").GetProperty("text").GetString());
        Assert.Equal(7, answer.Message.GetProperty("reply").GetProperty("count").GetInt32());
        Assert.Equal(worker.ProcessId, answer.Message.GetProperty("pid").GetInt32());
    }

    // Node asserts: a user message shaped like cluster's internal ones ({cmd: 'NODE_CLUSTER', ack: -1}) does not crash
    // the worker, which later exits 0. Ours carries application messages in frames of their own: it is only a message.
    [Fact]
    public async Task test_cluster_invalid_message()
    {
        await using var cluster = await ParityCluster.StartAsync(new ClusterOptions { Workers = 1, RestartDelay = TimeSpan.FromMinutes(5), MaxRestartDelay = TimeSpan.FromMinutes(5) });
        var replies = new System.Collections.Concurrent.ConcurrentQueue<JsonElement>();
        cluster.Primary.Message += (_, e) => replies.Enqueue(e.Message);
        var worker = await cluster.ReadyWorkerAsync(1);

        worker.Send(new { cmd = "NODE_CLUSTER", ack = -1, type = 7 });
        await Poll.UntilAsync(() => replies.Any(reply => reply.GetProperty("reply").TryGetProperty("cmd", out _)), ParityCluster.Deadline, "the worker's answer");
        Assert.Equal(WorkerState.Ready, worker.State);

        worker.Disconnect();
        var exit = await cluster.ExitOfAsync(1);
        Assert.Equal((0, null), (exit.ExitCode, exit.Signal));
    }
}
