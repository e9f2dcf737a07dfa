using ProcessCluster.Telemetry;

namespace ProcessCluster.Primary;

/// <summary>The counters of decisions (the gauges read the snapshot themselves).</summary>
internal sealed class MetricsObserver(ClusterMetrics metrics) : IClusterObserver
{
    public void Exited(WorkerHandle worker, ExitStatus status, TimeSpan? restartIn, bool replaced)
    {
        if (replaced)
        {
            metrics.Restarted(worker.StopReason ?? StopReasons.Unasked(status));
        }
    }

    public void Scaled(int from, int to, string why) => metrics.Scaled(from, to);

    public void ChannelRefused(int pid, string reason) => metrics.ChannelRefused();
}
