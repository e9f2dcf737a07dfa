namespace ProcessCluster.IntegrationTests;

/// <summary>
/// samples/TcpEcho, a line protocol served through ClusterWorker's public API with no ASP.NET Core, as real processes
/// with real sockets in both scheduling modes.
/// </summary>
public class TcpEchoTests
{
    private const int SIGHUP = 1;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static string TcpEcho => TestCluster.BuiltAssembly(Path.Combine("samples", "TcpEcho"), "TcpEcho.dll");

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public async Task Connections_spread_over_both_workers_and_each_echoes_every_line_from_its_worker(string scheduling)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: 2, app: TcpEcho);
        var workers = await cluster.ReadyPidsAsync();
        var connectionsByPid = await ConnectionSpread.CountAsync(async opened =>
        {
            using var client = await EchoClient.ConnectAsync(cluster.BaseAddress);
            var pid = await client.EchoAsync($"hello {opened}");
            Assert.Equal(pid, await client.EchoAsync("and again"));
            return pid;
        });

        ConnectionSpread.AssertSpread(connectionsByPid, workers, scheduling);
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public async Task A_killed_worker_is_replaced_while_the_service_keeps_answering(string scheduling)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: 2, app: TcpEcho);
        var workers = await cluster.ReadyPidsAsync();
        using var survivorConnection = await EchoClient.ConnectAsync(cluster.BaseAddress);
        var survivor = await survivorConnection.EchoAsync("before");
        var victim = workers.Single(pid => pid != survivor);

        ProcessTree.Kill(victim);
        // Before the replacement is ready, new connections are served by the survivor (or held for the replacement)
        // and the open one keeps its worker.
        for (var i = 0; i < 10; i++)
        {
            Assert.NotEqual(victim, await EchoClient.EchoOnceAsync(cluster.BaseAddress, $"during {i}"));
        }

        Assert.Equal(survivor, await survivorConnection.EchoAsync("still here"));
        var current = await cluster.WaitForReadyPidsAsync(
            pids => pids.Count == 2 && !pids.Contains(victim), "a replacement for the killed worker", Deadline);
        var replacement = current.Single(pid => pid != survivor);
        var seen = new HashSet<int>();
        for (var i = 0; i < 200 && !seen.Contains(replacement); i++)
        {
            seen.Add(await EchoClient.EchoOnceAsync(cluster.BaseAddress, $"after {i}"));
        }

        Assert.Contains(replacement, seen);
        await cluster.WaitForLineAsync(line => line.Contains($"(pid {victim}) killed by signal SIGKILL", StringComparison.Ordinal), Deadline);
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Shared")]
    public async Task A_rolling_reload_answers_an_open_connection_until_its_worker_drains_then_closes_it_and_new_connections_reach_new_workers(string scheduling)
    {
        await using var cluster = await TestCluster.StartAsync(scheduling, workers: 2, app: TcpEcho);
        var original = await cluster.ReadyPidsAsync();
        using var open = await EchoClient.ConnectAsync(cluster.BaseAddress);
        var pid = await open.EchoAsync("before");

        cluster.Signal(SIGHUP);
        await cluster.WaitForStatusAsync(
            status => status.Workers.Any(worker => worker.Pid == pid && worker.State == Primary.WorkerState.Draining), "the connection's worker draining", Deadline);
        // Draining: new connections go elsewhere (in Shared mode once the worker has stopped accepting, a moment later).
        if (scheduling == "RoundRobin")
        {
            Assert.NotEqual(pid, await EchoClient.EchoOnceAsync(cluster.BaseAddress, "while it drains"));
        }

        // The worker learns of its drain a moment after the primary has decided it: until then its answers go on, and
        // the first answer after it is the last before the close.
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    Assert.Equal(pid, await open.EchoAsync("until the drain closes this connection"));
                    return false;
                }
                catch (IOException)
                {
                    return true;
                }
            },
            Deadline,
            "the draining worker closing the open connection after an answer");

        var current = await cluster.WaitForReadyPidsAsync(
            pids => pids.Count == 2 && !pids.Intersect(original).Any() && cluster.ChildPids().Count == 2, "two new workers and no old one", Deadline);
        Assert.Contains(await EchoClient.EchoOnceAsync(cluster.BaseAddress, "after"), current);
    }
}
