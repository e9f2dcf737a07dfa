using ProcessCluster.Ipc;

namespace ProcessCluster.Worker;

/// <summary>
/// Folds what ASP.NET Core's meters measure in this worker into the few numbers the primary exports per worker: the
/// up-down sums, and the histograms bucketed on the boundaries the frame fixes, over every tag (method, route, status
/// and the like would multiply the series by their values). Any thread may record; a snapshot is read without a lock.
/// </summary>
internal sealed class HttpMetricsAggregator
{
    private readonly Histogram _requestDuration = new(HttpMetricsFormat.RequestDurationBoundaries);
    private readonly Histogram _connectionDuration = new(HttpMetricsFormat.ConnectionDurationBoundaries);
    private long _activeConnections;
    private long _activeRequests;

    /// <summary>The instruments folded, by meter and name, each with its slot; anything else is not listened to.</summary>
    private static readonly Dictionary<(string Meter, string Instrument), HttpInstrument> Slots = new()
    {
        [("Microsoft.AspNetCore.Server.Kestrel", "kestrel.active_connections")] = HttpInstrument.ActiveConnections,
        [("Microsoft.AspNetCore.Server.Kestrel", "kestrel.connection.duration")] = HttpInstrument.ConnectionDuration,
        [("Microsoft.AspNetCore.Hosting", "http.server.active_requests")] = HttpInstrument.ActiveRequests,
        [("Microsoft.AspNetCore.Hosting", "http.server.request.duration")] = HttpInstrument.RequestDuration,
    };

    /// <summary>The slot of an instrument folded here, looked up once when it is published; false for any other.</summary>
    public static bool TryGetSlot(string meter, string instrument, out HttpInstrument slot) => Slots.TryGetValue((meter, instrument), out slot);

    /// <summary>One measurement, by the slot its instrument was enabled with: no name is compared per measurement.</summary>
    public void Record(HttpInstrument slot, double value)
    {
        switch (slot)
        {
            case HttpInstrument.ActiveConnections:
                Interlocked.Add(ref _activeConnections, (long)value);
                break;
            case HttpInstrument.ActiveRequests:
                Interlocked.Add(ref _activeRequests, (long)value);
                break;
            case HttpInstrument.RequestDuration:
                _requestDuration.Record(value);
                break;
            case HttpInstrument.ConnectionDuration:
                _connectionDuration.Record(value);
                break;
        }
    }

    /// <summary>The values now. A sum is never below 0, even for a moment between a decrement and its increment elsewhere.</summary>
    public WorkerHttpMetrics Snapshot() => new(
        Math.Max(0, Interlocked.Read(ref _activeConnections)),
        Math.Max(0, Interlocked.Read(ref _activeRequests)),
        _requestDuration.Snapshot(),
        _connectionDuration.Snapshot());

    /// <summary>Counts per bucket, a value on a boundary in the bucket below it (Prometheus's le, OpenTelemetry's upper bound inclusive).</summary>
    private sealed class Histogram(IReadOnlyList<double> boundaries)
    {
        private readonly long[] _counts = new long[boundaries.Count + 1];
        private long _sumBits;

        public void Record(double value)
        {
            if (!double.IsFinite(value) || value < 0)
            {
                return;
            }

            var bucket = 0;
            while (bucket < boundaries.Count && value > boundaries[bucket])
            {
                bucket++;
            }

            Interlocked.Increment(ref _counts[bucket]);
            long seen, added;
            do
            {
                seen = Interlocked.Read(ref _sumBits);
                added = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + value);
            }
            while (Interlocked.CompareExchange(ref _sumBits, added, seen) != seen);
        }

        public HistogramSnapshot Snapshot() =>
            new(Enumerable.Range(0, _counts.Length).Select(bucket => Volatile.Read(ref _counts[bucket])).ToArray(), BitConverter.Int64BitsToDouble(Interlocked.Read(ref _sumBits)));
    }
}
