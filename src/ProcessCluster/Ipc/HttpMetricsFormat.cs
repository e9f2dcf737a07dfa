using System.Buffers.Binary;
using System.Net;

namespace ProcessCluster.Ipc;

/// <summary>
/// A histogram as a worker aggregated it: one count per bucket (the last counts what is above every boundary) and the
/// sum of what was recorded, cumulative since the worker started.
/// </summary>
internal sealed record HistogramSnapshot(long[] Counts, double Sum)
{
    public long Count => Counts.Sum();

    public static HistogramSnapshot Empty(IReadOnlyList<double> boundaries) => new(new long[boundaries.Count + 1], 0);
}

/// <summary>
/// A worker's HTTP server metrics, as ASP.NET Core's own meters measure them: kestrel.active_connections and
/// http.server.active_requests (the up-down sums now), http.server.request.duration and kestrel.connection.duration
/// (histograms in seconds, over every tag).
/// </summary>
internal sealed record WorkerHttpMetrics(long ActiveConnections, long ActiveRequests, HistogramSnapshot RequestDuration, HistogramSnapshot ConnectionDuration)
{
    public static WorkerHttpMetrics Empty { get; } = new(
        0, 0, HistogramSnapshot.Empty(HttpMetricsFormat.RequestDurationBoundaries), HistogramSnapshot.Empty(HttpMetricsFormat.ConnectionDurationBoundaries));
}

/// <summary>
/// The HttpMetrics frame: active connections (int64), active requests (int64), then each histogram as its bucket
/// counts (int64 each) and its sum (float64, seconds). The boundaries are fixed here, on both sides, so the frame has one
/// size and carries none.
/// </summary>
internal static class HttpMetricsFormat
{
    /// <summary>http.server.request.duration's advised boundaries (OpenTelemetry's, as ASP.NET Core documents them).</summary>
    public static readonly IReadOnlyList<double> RequestDurationBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    /// <summary>kestrel.connection.duration's advised boundaries: connections live longer than requests.</summary>
    public static readonly IReadOnlyList<double> ConnectionDurationBoundaries = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

    public static readonly int Size = 16 + HistogramSize(RequestDurationBoundaries) + HistogramSize(ConnectionDurationBoundaries);

    public static byte[] Write(WorkerHttpMetrics metrics)
    {
        var payload = new byte[Size];
        var span = payload.AsSpan();
        BinaryPrimitives.WriteInt64LittleEndian(span, metrics.ActiveConnections);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], metrics.ActiveRequests);
        var offset = WriteHistogram(span, 16, metrics.RequestDuration);
        WriteHistogram(span, offset, metrics.ConnectionDuration);
        return payload;
    }

    /// <summary>The metrics a frame carries; a frame of another size, with descriptors, or with a negative or non-finite value is a violation.</summary>
    public static WorkerHttpMetrics Read(Frame frame)
    {
        if (frame.Payload.Length != Size || frame.Fds.Length != 0)
        {
            throw new ProtocolViolationException($"malformed HttpMetrics frame: {frame.Payload.Length} bytes and {frame.Fds.Length} descriptors, expected {Size} and 0");
        }

        var span = frame.Payload.AsSpan();
        var connections = NotNegative(BinaryPrimitives.ReadInt64LittleEndian(span));
        var requests = NotNegative(BinaryPrimitives.ReadInt64LittleEndian(span[8..]));
        var (requestDuration, offset) = ReadHistogram(span, 16, RequestDurationBoundaries.Count + 1);
        var (connectionDuration, _) = ReadHistogram(span, offset, ConnectionDurationBoundaries.Count + 1);
        return new WorkerHttpMetrics(connections, requests, requestDuration, connectionDuration);
    }

    private static int HistogramSize(IReadOnlyList<double> boundaries) => ((boundaries.Count + 1) * 8) + 8;

    private static int WriteHistogram(Span<byte> destination, int offset, HistogramSnapshot histogram)
    {
        foreach (var count in histogram.Counts)
        {
            BinaryPrimitives.WriteInt64LittleEndian(destination[offset..], count);
            offset += 8;
        }

        BinaryPrimitives.WriteDoubleLittleEndian(destination[offset..], histogram.Sum);
        return offset + 8;
    }

    private static (HistogramSnapshot Histogram, int Offset) ReadHistogram(ReadOnlySpan<byte> source, int offset, int buckets)
    {
        var counts = new long[buckets];
        for (var i = 0; i < buckets; i++, offset += 8)
        {
            counts[i] = NotNegative(BinaryPrimitives.ReadInt64LittleEndian(source[offset..]));
        }

        var sum = BinaryPrimitives.ReadDoubleLittleEndian(source[offset..]);
        return double.IsFinite(sum) && sum >= 0
            ? (new HistogramSnapshot(counts, sum), offset + 8)
            : throw new ProtocolViolationException($"an HttpMetrics frame with a histogram sum of {sum}");
    }

    private static long NotNegative(long value) =>
        value >= 0 ? value : throw new ProtocolViolationException($"an HttpMetrics frame with a negative value ({value})");
}
