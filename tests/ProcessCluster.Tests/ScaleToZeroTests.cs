using ProcessCluster.Ipc;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

/// <summary>The supervisor at MinWorkers=0 on a fake clock: idle, it drains its last worker; a waiting connection starts one; readiness holds throughout.</summary>
public class ScaleToZeroTests
{
    [Fact]
    public async Task An_idle_cluster_drains_its_last_worker_stays_ready_and_a_waiting_connection_starts_one_that_takes_it()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions
        {
            MinWorkers = 0,
            MaxWorkers = 2,
            ScaleDownWindow = TimeSpan.FromSeconds(5),
            ScaleWarmUp = TimeSpan.Zero,
        });
        var channel = await cluster.ReadyAsync(1);
        var worker = cluster.Workers.Single();

        // Two idle reports half a second apart: a busy fraction of 0.
        await cluster.ReportLoadAsync(channel, 1, new WorkerLoadReport(0, 0, 0, 1, 0));
        await cluster.ReportLoadAsync(channel, 1, new WorkerLoadReport(0, 0, 0, 500_001, 0));
        await cluster.UntilAsync(_ => worker.BusyFraction == 0, "an idle busy fraction");
        for (var second = 1; worker.State != WorkerState.Draining; second++)
        {
            Assert.True(second <= 7, $"not drained {second} s into a 5 s window: {string.Join("; ", cluster.Observer.Facts)}");
            cluster.Clock.Advance(TimeSpan.FromSeconds(1));
            var now = cluster.Clock.GetUtcNow();
            await cluster.UntilAsync(snapshot => snapshot.LastTickAt == now, $"the tick at {second} s handled");
        }

        Assert.Equal(StopReason.ScaledDown, worker.StopReason);
        cluster.Exit(worker, ExitStatus.Exited(0));
        await cluster.UntilAsync(snapshot => snapshot is { Workers.Count: 0, DesiredWorkers: 0 }, "no worker left");
        Assert.True(cluster.Supervisor.Health.Ready, cluster.Supervisor.Health.NotReadyBecause);
        Assert.DoesNotContain(cluster.Observer.Facts, fact => fact.Contains("restart", StringComparison.Ordinal));

        // A connection arrives: the worker starts on that event, without waiting for a tick.
        cluster.Distribution.Hold(1);
        await cluster.SpawnedAsync(2);
        Assert.Contains("scaled 0 -> 1", cluster.Observer.Facts);
        Assert.True(cluster.Supervisor.Health.Ready, cluster.Supervisor.Health.NotReadyBecause);
        await cluster.ReadyAsync(2);
        Assert.Equal([1, 2], cluster.Distribution.Added);
        Assert.Equal(0, cluster.Distribution.Queued);
    }

    [Fact]
    public async Task A_cluster_that_may_scale_to_zero_starts_one_worker_and_is_not_ready_before_it_serves()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { MinWorkers = 0, MaxWorkers = 2 });
        await cluster.SpawnedAsync(1);
        Assert.Equal(new Policies.ClusterHealth(true, "no worker is ready"), cluster.Supervisor.Health);
        await cluster.ReadyAsync(1);
        Assert.Equal(1, cluster.Processes.Spawned);
        Assert.True(cluster.Supervisor.Health.Ready);
    }

    [Fact]
    public async Task Connections_waiting_before_the_first_event_start_no_worker_beyond_the_initial_ones()
    {
        // The waiting connections' event is queued before the loop's start: it starts the first worker, the start none more.
        await using var cluster = new SupervisorHarness(new ClusterOptions { MinWorkers = 1, MaxWorkers = 4 }, heldAtStart: 3);
        await cluster.SpawnedAsync(1);
        cluster.Clock.Advance(TimeSpan.FromSeconds(1));
        var now = cluster.Clock.GetUtcNow();
        await cluster.UntilAsync(snapshot => snapshot.LastTickAt == now, "a tick after the start handled");
        Assert.Equal(1, cluster.Processes.Spawned);
        Assert.Equal(1, cluster.Supervisor.Snapshot.DesiredWorkers);
    }
}
