using ProcessCluster.Primary;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// A warm spare: started and ready, given no connections, and serving the moment a serving worker dies; and a new
/// worker's warm-up request to itself.
/// </summary>
public class WarmSpareTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_spare_gets_no_connections_until_a_worker_dies_then_takes_its_place_and_a_new_spare_starts()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__WarmSpares"] = "1" });
        var status = await SettledAsync(cluster);
        var spare = Assert.Single(status.Workers, worker => worker.State == WorkerState.Spare);
        var serving = status.Workers.Where(worker => worker.State == WorkerState.Ready).Select(worker => worker.Pid).ToList();

        using var client = new AppClient(cluster.BaseAddress);
        var answered = new List<int>();
        for (var i = 0; i < 20; i++)
        {
            answered.Add(await client.HelloPidAsync());
        }

        Assert.Equal(serving.Order(), answered.Distinct().Order());

        var victim = serving[0];
        ProcessTree.Kill(victim);
        await cluster.WaitForStatusAsync(
            status => status.Workers.Any(worker => worker.Pid == spare.Pid && worker.State == WorkerState.Ready), "the spare promoted", Deadline);
        // The spare serves at once: the next answers come from it and the survivor, while the dead one restarts.
        var next = new HashSet<int>();
        for (var i = 0; i < 10; i++)
        {
            next.Add(await client.HelloPidAsync());
        }

        Assert.Equal(new[] { serving[1], spare.Pid }.Order(), next.Order());

        status = await SettledAsync(cluster);
        var newSpare = Assert.Single(status.Workers, worker => worker.State == WorkerState.Spare);
        Assert.DoesNotContain(newSpare.Pid, new[] { victim, serving[1], spare.Pid });
        Assert.Equal(1, newSpare.Restarts);
        Assert.Contains(status.Workers, worker => worker.Pid == spare.Pid && worker.State == WorkerState.Ready);
    }

    [Fact]
    public async Task A_reload_replaces_the_spare_too()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__WarmSpares"] = "1" });
        var before = (await SettledAsync(cluster)).Workers.Select(worker => worker.Pid).ToList();

        var reload = await ClusterCli.RunAsync("reload", "--pid", cluster.PrimaryPid.ToString());
        Assert.True(reload.ExitCode == 0, reload.ToString());
        var after = await SettledAsync(cluster);
        Assert.Empty(after.Workers.Select(worker => worker.Pid).Intersect(before));
        Assert.Equal(2, after.Workers.Count(worker => worker.State == WorkerState.Ready));
    }

    [Fact]
    public async Task Each_new_worker_serves_its_warmup_request_before_it_is_ready_and_a_failing_one_only_warns()
    {
        await using (var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 1, environment: new Dictionary<string, string> { ["Cluster__WarmupPath"] = "/hello" }))
        {
            await cluster.WaitForLineAsync(line => line.Contains("Warm-up GET /hello: 200 in"), Deadline);
            // No client has asked anything: the one request the app counted is the worker's own, through Kestrel.
            var status = await cluster.WaitForStatusAsync(status => status.Workers.Single().Requests == 1, "the warm-up request counted by the worker", Deadline);
            Assert.Equal(0, status.Workers.Single().Dispatched);
        }

        await using var misconfigured = await TestCluster.StartAsync(
            "RoundRobin", workers: 1, environment: new Dictionary<string, string> { ["Cluster__WarmupPath"] = "/no-such-route" });
        await misconfigured.WaitForLineAsync(line => line.Contains("Warm-up GET /no-such-route answered 404"), Deadline);
        using var client = new AppClient(misconfigured.BaseAddress);
        Assert.Equal((await misconfigured.ReadyPidsAsync()).Single(), await client.HelloPidAsync());
    }

    /// <summary>Two serving workers and one spare, nothing starting.</summary>
    private static Task<Control.ClusterStatus> SettledAsync(TestCluster cluster) =>
        cluster.WaitForStatusAsync(
            status => status.Workers.Count == 3
                && status.Workers.Count(worker => worker.State == WorkerState.Ready) == 2
                && status.Workers.Count(worker => worker.State == WorkerState.Spare) == 1,
            "two serving workers and a spare",
            Deadline);
}
