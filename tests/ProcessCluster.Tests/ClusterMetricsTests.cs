using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using ProcessCluster.Primary;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Tests;

/// <summary>The cluster's meter: from the container's IMeterFactory when there is one; what its per-worker series report.</summary>
/// <remarks>Alone: a meter listener hears every meter in the process, and other tests create clusters.</remarks>
[Collection(nameof(ProcessWideCollection))]
public class ClusterMetricsTests
{
    [Fact]
    public void With_a_meter_factory_the_meter_is_the_containers()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        var scopes = new List<object?>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == ClusterMetrics.MeterName && instrument.Name == "processcluster.workers")
                {
                    scopes.Add(instrument.Meter.Scope);
                }
            },
        };
        listener.Start();

        using (new ClusterMetrics(() => [], () => 2, () => 2, () => 0, factory))
        {
        }

        using (new ClusterMetrics(() => [], () => 2, () => 2, () => 0))
        {
        }

        Assert.Equal([factory, null], scopes);
    }

    [Fact]
    public void A_worker_is_in_the_sampled_series_only_once_sampled()
    {
        var worker = new WorkerHandle(1, "secret", DateTimeOffset.UnixEpoch, restarts: 0, requestLimit: 0, new NoOwner());
        using var metrics = new ClusterMetrics(() => [worker], () => 1, () => 1, () => 0);

        Assert.Equal(["processcluster.worker.connections.dispatched", "processcluster.worker.requests", "processcluster.worker.requests.in_flight"], SeriesOf(worker));

        worker.View = worker.View with { ResidentBytes = 50_000_000, CpuPercent = 12.5, BusyFraction = 0.25 };
        Assert.Equal(
            ["processcluster.worker.busy", "processcluster.worker.connections.dispatched", "processcluster.worker.cpu.utilization", "processcluster.worker.memory.rss",
                "processcluster.worker.requests", "processcluster.worker.requests.in_flight"],
            SeriesOf(worker));
    }

    /// <summary>The per-worker instruments (tag "worker") that measured <paramref name="worker"/> in one collection.</summary>
    private static List<string> SeriesOf(WorkerHandle worker)
    {
        var measured = new SortedSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ClusterMetrics.MeterName && instrument.Name.StartsWith("processcluster.worker.", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "worker", Value: int id } && id == worker.Id)
                {
                    measured.Add(instrument.Name);
                }
            }
        }

        listener.SetMeasurementEventCallback<int>(Record);
        listener.SetMeasurementEventCallback<long>(Record);
        listener.SetMeasurementEventCallback<double>(Record);
        listener.Start();
        listener.RecordObservableInstruments();
        return [.. measured];
    }

    private sealed class NoOwner : IWorkerOwner
    {
        public void RequestStop(WorkerHandle worker)
        {
        }

        public void Signal(int pid, int signal)
        {
        }

        public long Dispatched(int workerId) => 0;

        public void MessagesUnread(WorkerHandle worker)
        {
        }
    }
}
