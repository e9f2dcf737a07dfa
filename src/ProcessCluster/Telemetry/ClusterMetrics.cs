using System.Diagnostics.Metrics;
using ProcessCluster.Primary;

namespace ProcessCluster.Telemetry;

/// <summary>
/// One primary's instruments (System.Diagnostics.Metrics, meter "ProcessCluster"), for any exporter to read: the
/// cluster's size and decisions, and per worker (tag <c>worker</c>) the signals an autoscaler, an HPA or KEDA would use.
/// Units follow OpenTelemetry's conventions (UCUM: "1" for a fraction, "By", curly-brace annotations for counts), so
/// that the Prometheus exporter names each series the Prometheus way (_bytes, _total).
/// </summary>
public sealed class ClusterMetrics : IDisposable
{
    /// <summary>The meter to add to an exporter (OpenTelemetry's AddMeter) to read the cluster's instruments.</summary>
    public const string MeterName = "ProcessCluster";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _scaleEvents;
    private readonly Counter<long> _restarts;
    private readonly Counter<long> _channelRefused;
    private readonly Func<IReadOnlyList<WorkerHandle>> _workers;

    /// <summary>
    /// With a container's <paramref name="meterFactory"/> (an app's host) the meter is the container's, disposed with
    /// it; without one (dotnet-cluster run) this object owns a plain meter.
    /// </summary>
    internal ClusterMetrics(Func<IReadOnlyList<WorkerHandle>> workers, Func<int> desiredWorkers, Func<int> maxWorkers, Func<int> queuedConnections, IMeterFactory? meterFactory = null, Func<long>? backplaneDropped = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _workers = workers;
        _scaleEvents = _meter.CreateCounter<long>("processcluster.scale.events", "{event}", "Changes of the desired worker count, by direction");
        _restarts = _meter.CreateCounter<long>("processcluster.worker.restarts", "{restart}", "Workers replaced, by the reason the old one stopped");
        _channelRefused = _meter.CreateCounter<long>("processcluster.channel.refused", "{connection}", "Connections to the workers' channel refused: not a starting worker, a wrong secret or a bad hello");
        _meter.CreateObservableGauge("processcluster.workers", WorkersByState, "{worker}", "Worker processes, by state");
        _meter.CreateObservableGauge("processcluster.workers.desired", desiredWorkers, "{worker}", "The worker count the cluster aims for");
        // What an HPA divides the busy fractions by, so that a pod counts as full only once it cannot grow.
        _meter.CreateObservableGauge("processcluster.workers.max", maxWorkers, "{worker}", "The most workers the cluster may run (Cluster:MaxWorkers)");
        _meter.CreateObservableGauge("processcluster.dispatch.queue", queuedConnections, "{connection}", "Connections accepted by the primary and not yet handed to a worker");
        _meter.CreateObservableCounter("processcluster.backplane.dropped", backplaneDropped ?? (() => 0L), "{message}", "SignalR backplane messages a worker did not get: its outbox was full, or it went away");
        // A worker is left out of a sampled series until it has a value (memory: one probe; CPU: two probes; busy: two
        // load reports): a 0 there would read as an idle, empty process, and pull an HPA's average of _busy down.
        PerWorker<double>("processcluster.worker.cpu.utilization", worker => worker.CpuPercent / 100, "1", "CPU used, as a fraction of one core");
        PerWorker<long>("processcluster.worker.memory.rss", worker => worker.ResidentBytes > 0 ? worker.ResidentBytes : null, "By", "Resident memory");
        PerWorker<int>("processcluster.worker.requests.in_flight", worker => worker.RequestsInFlight, "{request}", "Requests being served at the last report");
        PerWorker<double>("processcluster.worker.busy", worker => worker.BusyFraction, "1", "Share of time with at least one request in flight");
        _meter.CreateObservableCounter("processcluster.worker.requests", () => Each<long>(worker => worker.Requests), "{request}", "Requests started");
        _meter.CreateObservableCounter("processcluster.worker.connections.dispatched", () => Each<long>(worker => worker.Dispatched), "{connection}", "Connections handed to the worker by the primary");
    }

    internal void Scaled(int from, int to) => _scaleEvents.Add(1, new KeyValuePair<string, object?>("direction", to > from ? "up" : "down"));

    internal void Restarted(StopReason reason) => _restarts.Add(1, new KeyValuePair<string, object?>("reason", reason.Describe()));

    internal void ChannelRefused() => _channelRefused.Add(1);

    /// <summary>A factory's meter is shared by everyone who asks for the name: the factory disposes it.</summary>
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private IEnumerable<Measurement<int>> WorkersByState() =>
        Enum.GetValues<WorkerState>()
            .Where(state => state != WorkerState.Dead)
            .Select(state => new Measurement<int>(
                _workers().Count(worker => worker.State == state),
                new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant())));

    private void PerWorker<T>(string name, Func<WorkerHandle, T?> read, string? unit, string description)
        where T : struct => _meter.CreateObservableGauge(name, () => Each(read), unit, description);

    /// <summary>One measurement per worker that has a value (null: not sampled yet).</summary>
    private IEnumerable<Measurement<T>> Each<T>(Func<WorkerHandle, T?> read)
        where T : struct
    {
        foreach (var worker in _workers())
        {
            if (read(worker) is { } value)
            {
                yield return new Measurement<T>(value, new KeyValuePair<string, object?>("worker", worker.Id));
            }
        }
    }
}
