namespace ProcessCluster.IntegrationTests;

/// <summary>
/// ReusePort scheduling with real processes: each worker accepts on its own member of the port's SO_REUSEPORT group,
/// which the primary opened and keeps; the kernel's BPF program spreads new connections over the serving workers.
/// </summary>
public class ReusePortTests
{
    private const int SIGSTOP = 19;
    private const int SIGTTIN = 21;
    private const int SIGTTOU = 22;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task New_connections_spread_evenly_over_both_workers()
    {
        await using var cluster = await TestCluster.StartAsync("ReusePort", workers: 2);
        var workers = await cluster.ReadyPidsAsync();
        using var client = new AppClient(cluster.BaseAddress);
        var counts = new Dictionary<int, int>();
        for (var i = 0; i < 200; i++)
        {
            var pid = await client.HelloPidAsync();
            counts[pid] = counts.GetValueOrDefault(pid) + 1;
        }

        // Each connection goes to a worker at random: 100 ± 40 is over 5 standard deviations.
        Assert.Equal(workers.Order(), counts.Keys.Order());
        Assert.All(counts.Values, count => Assert.InRange(count, 60, 140));
    }

    [Fact]
    public async Task Connections_queued_on_a_sigkilled_workers_socket_are_served_by_its_replacement()
    {
        await using var cluster = await TestCluster.StartAsync("ReusePort", workers: 2);
        var workers = await cluster.ReadyPidsAsync();
        var port = cluster.BaseAddress.Port;
        // Stopped, the worker accepts nothing: what the kernel gives its socket waits in that socket's queue.
        ProcessTree.Kill(workers[0], SIGSTOP);
        // A client each: one pool would run a request on whichever connection is free first, leaving connections
        // without a request queued on the stopped worker's socket, and the count below would never add up.
        var requests = Enumerable.Range(0, 20).Select(_ => HelloPidOnItsOwnConnectionAsync(cluster.BaseAddress)).ToList();
        await Poll.UntilAsync(
            () => requests.Count(request => request.IsCompletedSuccessfully) + ProcessTree.QueuedOnListeners(port) == requests.Count,
            Deadline,
            "every request answered by the other worker or queued",
            () => $"{requests.Count(request => request.IsCompletedSuccessfully)} answered, {ProcessTree.QueuedOnListeners(port)} queued, {requests.Count(request => request.IsFaulted)} failed");
        Assert.InRange(ProcessTree.QueuedOnListeners(port), 1, requests.Count);

        ProcessTree.Kill(workers[0]);
        var pids = await Task.WhenAll(requests);

        // Not one was reset with the dead worker: those it never accepted went to the worker that took its socket.
        Assert.DoesNotContain(workers[0], pids);
        Assert.Contains(pids, pid => !workers.Contains(pid));
    }

    private static async Task<int> HelloPidOnItsOwnConnectionAsync(Uri baseAddress)
    {
        using var client = new AppClient(baseAddress, Deadline);
        return await client.HelloPidAsync();
    }

    [Fact]
    public async Task Scaling_up_brings_a_third_socket_into_the_spread_and_scaling_down_under_load_fails_no_request()
    {
        await using var cluster = await TestCluster.StartAsync("ReusePort", workers: 2);
        cluster.Signal(SIGTTIN);
        var three = await cluster.WaitForReadyPidsAsync(pids => pids.Count == 3, "a third worker", Deadline);
        using var client = new AppClient(cluster.BaseAddress);
        var seen = new HashSet<int>();
        for (var i = 0; i < 300 && seen.Count < 3; i++)
        {
            seen.Add(await client.HelloPidAsync());
        }

        Assert.Equal(three.Order(), seen.Order());

        await using var load = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/hello"), concurrency: 8, newConnectionPerRequest: true);
        await load.WaitForSuccessesAsync(100, Deadline);
        cluster.Signal(SIGTTOU);
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2, "one worker fewer", Deadline);
        cluster.Signal(SIGTTOU);
        var last = await cluster.WaitForReadyPidsAsync(pids => pids.Count == 1 && cluster.ChildPids().Count == 1, "one worker left", Deadline);
        var before = load.ResponsesFrom(last.Single());
        await load.WaitForSuccessesAsync(load.Succeeded + 100, Deadline);
        var report = await load.StopAsync();

        report.AssertNoneFailed();
        Assert.Equal(0, report.Refused);
        // The two idle members stay in the group: the program sends every new connection to the one left.
        Assert.True(report.ResponsesByPid[last.Single()] - before >= 100, $"{report.ResponsesByPid[last.Single()] - before} of the last 100 answers came from the worker left");
    }
}
