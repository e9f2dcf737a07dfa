using ProcessCluster.Telemetry;

namespace ProcessCluster.IntegrationTests;

/// <summary>The cluster sizes itself: real CPU load on the seed's "/" grows it, quiet shrinks it, no request fails.</summary>
public class ScalingTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Cpu_load_grows_the_cluster_and_quiet_shrinks_it_back_without_failed_requests()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin",
            workers: null,
            environment: new Dictionary<string, string>
            {
                ["Cluster__MinWorkers"] = "1",
                ["Cluster__MaxWorkers"] = "4",
                ["Cluster__ScaleDownWindow"] = "00:00:05",
                ["Cluster__ScaleWarmUp"] = "00:00:01",
            });
        Assert.Single(await cluster.ReadyPidsAsync());

        // Keep-alive: all six connections are opened to the first worker; new workers get theirs only because the
        // primary asks the first one to shed its surplus.
        await using (var burn = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/"), concurrency: 6))
        {
            await cluster.WaitForReadyPidsAsync(pids => pids.Count >= 3, "the cluster to grow to 3 workers", Deadline);
            await burn.WaitForSuccessesAsync(burn.Succeeded + 10, Deadline);
            (await burn.StopAsync()).AssertNoneFailed();
        }

        await cluster.WaitForLineAsync(line => line.Contains("Scaling 1 → 2 workers: busy"), Deadline);
        await cluster.WaitForLineAsync(line => line.Contains("to shed") && line.Contains("connections, to spread them over"), Deadline);

        // A trickle of requests keeps flowing while the cluster shrinks: draining workers must not drop any.
        await using var trickle = LoadGenerator.Start(new Uri(cluster.BaseAddress, "/hello"), concurrency: 1);
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 1 && cluster.ChildPids().Count == 1, "the cluster to shrink to 1 worker", Deadline);
        (await trickle.StopAsync()).AssertNoneFailed();
        await cluster.WaitForLineAsync(line => line.Contains("exited cleanly (scaled down)"), Deadline);
        await cluster.WaitForLineAsync(line => line.Contains("to scale down (0 requests in flight"), Deadline);
    }

    [Fact]
    public async Task A_reload_surge_is_not_mistaken_for_growth()
    {
        // While a successor starts, its old worker still serves: three processes stand for two places.
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin",
            workers: null,
            environment: new Dictionary<string, string> { ["Cluster__MinWorkers"] = "2", ["Cluster__MaxWorkers"] = "4" });
        await cluster.WaitForReadyPidsAsync(pids => pids.Count == 2, "two workers", Deadline);

        var reload = await ClusterCli.RunAsync("reload", "--pid", cluster.PrimaryPid.ToString());
        Assert.True(reload.ExitCode == 0, reload.ToString());
        var status = await cluster.StatusAsync();
        Assert.Equal(2, status.DesiredWorkers);
        Assert.DoesNotContain(status.Events, @event => @event.Kind == ClusterEventKind.Scaled);
    }
}
