using ProcessCluster.Ipc;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

/// <summary>A step in load acted on from the one report that shows it, through the real channel and loop, with no tick of the (fake) clock.</summary>
public class FastScalingTests
{
    [Fact]
    public async Task One_report_of_requests_piling_up_in_a_worker_promotes_the_warm_spare_at_once()
    {
        var log = new RecordingLogger();
        await using var cluster = new SupervisorHarness(
            new ClusterOptions { MinWorkers = 1, MaxWorkers = 3, WarmSpares = 1, ScaleWarmUp = TimeSpan.Zero },
            log);
        var channel = await cluster.ReadyAsync(1);
        await cluster.ReadyAsync(2);
        var spare = cluster.Workers.Single(worker => worker.Id == 2);
        Assert.Equal(WorkerState.Spare, spare.State);

        // A quiet sample (busy 0), then 10 ms into the next one the report sent on the change: 16 requests in flight.
        await cluster.ReportLoadAsync(channel, 1, new WorkerLoadReport(0, 0, 0, 1, 0));
        await cluster.ReportLoadAsync(channel, 1, new WorkerLoadReport(0, 0, 0, 500_001, 0));
        Assert.Equal(1, cluster.Supervisor.Snapshot.DesiredWorkers);
        await cluster.ReportLoadAsync(channel, 1, new WorkerLoadReport(16, 16, 10_000, 510_001, 16));

        await cluster.UntilAsync(_ => spare.State == WorkerState.Ready, "the spare promoted");
        Assert.Contains("scaled 1 -> 2", cluster.Observer.Facts);
        Assert.Contains("ready 2 PromotedFromSpare", cluster.Observer.Facts);
        Assert.Contains(log.Lines, line => line.Contains("in-flight fast path: 1 of 1 workers at 8 or more requests in flight (most 16)", StringComparison.Ordinal)
            && line.EndsWith($"desired 2; on {cluster.Workers.Single(worker => worker.Id == 1)}'s load report", StringComparison.Ordinal));
    }
}
