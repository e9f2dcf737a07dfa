using System.Diagnostics.Metrics;
using ProcessCluster.Ipc;

namespace ProcessCluster.Worker;

/// <summary>
/// Listens in-process to ASP.NET Core's meters (Kestrel's and Hosting's, which measure only while someone listens)
/// and sends their aggregate to the primary on its interval when it changed. A server that is not ASP.NET Core
/// publishes none of them, so it sends nothing. Runs for the process's lifetime.
/// </summary>
internal sealed class HttpMetricsReporter
{
    private readonly HttpMetricsAggregator _aggregator = new();
    private readonly PrimaryConnection _primary;
    private readonly MeterListener _listener = new();
    private readonly Timer _timer;
    private readonly Lock _gate = new();
    private byte[] _sent = HttpMetricsFormat.Write(WorkerHttpMetrics.Empty);

    public HttpMetricsReporter(PrimaryConnection primary, TimeSpan interval)
    {
        _primary = primary;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (HttpMetricsAggregator.TryGetSlot(instrument.Meter.Name, instrument.Name, out var slot))
            {
                // The slot rides with each measurement as its state: the callback indexes by it, not by the name.
                listener.EnableMeasurementEvents(instrument, slot);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, state) => _aggregator.Record((HttpInstrument)state!, value));
        _listener.SetMeasurementEventCallback<double>((_, value, _, state) => _aggregator.Record((HttpInstrument)state!, value));
        _listener.Start();
        _timer = new Timer(_ => Send(), null, interval, interval);
    }

    /// <summary>A timer's ticks can overlap when one is late; the lock keeps them in order.</summary>
    private void Send()
    {
        lock (_gate)
        {
            var payload = HttpMetricsFormat.Write(_aggregator.Snapshot());
            if (!payload.AsSpan().SequenceEqual(_sent))
            {
                _primary.TrySend(FrameType.HttpMetrics, payload);
                _sent = payload;
            }
        }
    }
}
