using ProcessCluster.Policies;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

/// <summary>The primary's liveness (its loop turns) and readiness (a worker serves, no drain), on a fake clock.</summary>
public class ClusterHealthTests
{
    [Fact]
    public async Task Live_while_the_loop_handles_its_ticks_and_not_once_none_was_handled_for_the_bound()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 1 });
        await cluster.ReadyAsync(1);

        for (var second = 0; second < 30; second++)
        {
            cluster.Clock.Advance(TimeSpan.FromSeconds(1));
            var now = cluster.Clock.GetUtcNow();
            await cluster.UntilAsync(snapshot => snapshot.LastTickAt == now, $"the tick at {second + 1} s handled");
            Assert.True(cluster.Supervisor.Health.Live);
        }

        // A loop stuck since its last tick: live up to the bound, not a tick later, and then not ready either.
        var snapshot = cluster.Supervisor.Snapshot;
        var lastTick = snapshot.LastTickAt!.Value;
        Assert.Equal(new ClusterHealth(true, null), ClusterHealthPolicy.Judge(snapshot, lastTick + ClusterHealthPolicy.LoopStallBound));
        Assert.Equal(
            new ClusterHealth(false, "the supervisor loop is not turning"),
            ClusterHealthPolicy.Judge(snapshot, lastTick + ClusterHealthPolicy.LoopStallBound + TimeSpan.FromTicks(1)));
        Assert.False(ClusterHealthPolicy.Judge(ClusterSnapshot.Empty, lastTick).Live);
    }

    [Fact]
    public async Task Ready_once_a_worker_serves_and_not_while_the_cluster_drains()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 1, DrainTimeout = TimeSpan.FromSeconds(5) });
        await cluster.SpawnedAsync(1);
        Assert.Equal(new ClusterHealth(true, "no worker is ready"), cluster.Supervisor.Health);

        await cluster.ReadyAsync(1);
        Assert.True(cluster.Supervisor.Health.Ready);

        _ = cluster.Supervisor.StopAsync(CancellationToken.None);
        await cluster.UntilAsync(snapshot => snapshot.Stopping, "the stop under way");
        // The worker is still there, finishing what it has, but the cluster takes no new traffic: not ready, still live.
        Assert.False(cluster.Workers.Single().IsDead);
        Assert.Equal(new ClusterHealth(true, "the cluster is draining"), cluster.Supervisor.Health);
    }
}
