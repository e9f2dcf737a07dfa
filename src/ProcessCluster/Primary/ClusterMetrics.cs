using System.Diagnostics.Metrics;

namespace ProcessCluster.Primary;

/// <summary>One primary's instruments (System.Diagnostics.Metrics, meter "ProcessCluster"), for any exporter to read.</summary>
internal sealed class ClusterMetrics : IDisposable
{
    private readonly Meter _meter = new("ProcessCluster");
    private readonly Counter<long> _scaleEvents;

    public ClusterMetrics(Func<int> liveWorkers, Func<int> desiredWorkers)
    {
        _scaleEvents = _meter.CreateCounter<long>("processcluster.scale.events", description: "Changes of the desired worker count, by direction");
        _meter.CreateObservableGauge("processcluster.workers", liveWorkers, description: "Worker processes starting or serving");
        _meter.CreateObservableGauge("processcluster.workers.desired", desiredWorkers, description: "The worker count the cluster aims for");
    }

    public void Scaled(int from, int to) => _scaleEvents.Add(1, new KeyValuePair<string, object?>("direction", to > from ? "up" : "down"));

    public void Dispose() => _meter.Dispose();
}
