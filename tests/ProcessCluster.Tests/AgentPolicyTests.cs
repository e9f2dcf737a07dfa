using ProcessCluster.Policies;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

/// <summary>The HAProxy agent's line as a pure function of the cluster, and as the supervisor publishes it on a fake clock.</summary>
public class AgentPolicyTests
{
    private static AgentObservation Cluster(
        double[] busy, int max = 4, bool autoscaling = true, int? processes = null, int spares = 0, int surging = 0, bool stopping = false, bool live = true, bool fromZero = false) =>
        new(live, stopping, busy, spares, processes ?? busy.Length + spares, surging, max, autoscaling, fromZero);

    [Theory]
    // Idle share over the most workers the host can run: 2 idle of 4, plus 2 it may still start.
    [InlineData(new[] { 0.0, 0.0 }, 4, true, "ready 100%")]
    [InlineData(new[] { 1.0, 1.0 }, 4, true, "ready 50%")]
    [InlineData(new[] { 0.5, 0.5, 0.5, 0.5 }, 4, true, "ready 50%")]
    [InlineData(new[] { 0.8, 1.0, 1.0, 1.0 }, 4, true, "ready 5%")]
    // Saturated at its maximum: the floor, never 0% (HAProxy would stop asking it for anything).
    [InlineData(new[] { 1.0, 1.0, 1.0, 1.0 }, 4, true, "ready 1%")]
    // A fixed pool has no room to grow: only its idle share counts.
    [InlineData(new[] { 1.0, 1.0 }, 2, false, "ready 1%")]
    [InlineData(new[] { 0.25, 0.75 }, 2, false, "ready 50%")]
    public void Ready_weighs_idle_workers_and_room_to_scale_up(double[] busy, int max, bool autoscaling, string line) =>
        Assert.Equal(line, AgentPolicy.Answer(Cluster(busy, max, autoscaling)).ToString());

    [Fact]
    public void A_host_that_has_just_scaled_up_weighs_more_than_before()
    {
        var saturated = AgentPolicy.Answer(Cluster([1.0, 1.0], max: 8, autoscaling: true, processes: 8));
        var scaledUp = AgentPolicy.Answer(Cluster([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], max: 8, autoscaling: true));
        Assert.True(scaledUp.WeightPercent > saturated.WeightPercent, $"{scaledUp} after scaling up, {saturated} before");
        // A warm spare is capacity too.
        Assert.Equal("ready 50%", AgentPolicy.Answer(Cluster([1.0, 1.0], max: 4, autoscaling: false, spares: 2)).ToString());
    }

    [Fact]
    public void Drain_while_stopping_or_while_a_reload_surges_past_the_maximum_and_maint_while_none_serves()
    {
        Assert.Equal("drain", AgentPolicy.Answer(Cluster([0.0, 0.0], stopping: true)).ToString());
        // Two workers fixed at two, a successor starting beside them: no room for the surge.
        Assert.Equal("drain", AgentPolicy.Answer(Cluster([0.0, 0.0], max: 2, autoscaling: false, processes: 3, surging: 1)).ToString());
        // Room for the successor within the maximum: still ready.
        Assert.StartsWith("ready", AgentPolicy.Answer(Cluster([0.0, 0.0], max: 4, processes: 3, surging: 1)).ToString(), StringComparison.Ordinal);
        Assert.Equal("maint", AgentPolicy.Answer(Cluster([], processes: 2)).ToString());
        Assert.Equal("maint", AgentPolicy.Answer(Cluster([0.0], live: false)).ToString());
    }

    [Fact]
    public void A_cluster_scaled_to_zero_is_ready_with_all_its_room_since_the_next_connection_starts_a_worker()
    {
        Assert.Equal("ready 100%", AgentPolicy.Answer(Cluster([], max: 4, fromZero: true)).ToString());
        Assert.Equal("maint", AgentPolicy.Answer(Cluster([], max: 4, fromZero: true, live: false)).ToString());
    }

    [Fact]
    public async Task The_supervisor_answers_maint_until_a_worker_serves_then_ready_then_drain_once_it_stops()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 2, DrainTimeout = TimeSpan.FromSeconds(5) });
        await cluster.SpawnedAsync(1);
        Assert.Equal("maint", cluster.Supervisor.Agent.ToString());

        await cluster.ReadyAsync(1);
        await cluster.ReadyAsync(2);
        // Two fixed workers, not yet measured: all capacity is idle.
        Assert.Equal("ready 100%", cluster.Supervisor.Agent.ToString());

        _ = cluster.Supervisor.StopAsync(CancellationToken.None);
        await cluster.UntilAsync(snapshot => snapshot.Stopping, "the stop under way");
        Assert.Equal("drain", cluster.Supervisor.Agent.ToString());
    }

    [Fact]
    public async Task A_reload_of_a_fixed_pool_drains_the_host_while_its_successor_surges()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 1 });
        await cluster.ReadyAsync(1);
        var reload = cluster.Supervisor.ReloadAsync(CancellationToken.None);
        await cluster.SpawnedAsync(2);
        Assert.Equal("drain", cluster.Supervisor.Agent.ToString());

        await cluster.ReadyAsync(2);
        await cluster.UntilAsync(snapshot => snapshot.Surging == 0, "the successor serving");
        Assert.Equal("ready 100%", cluster.Supervisor.Agent.ToString());
        cluster.Exit(cluster.Workers.First(worker => worker.Id == 1), ExitStatus.Exited(0));
        Assert.True((await reload.WaitAsync(SupervisorHarness.Deadline)).Succeeded);
    }
}
