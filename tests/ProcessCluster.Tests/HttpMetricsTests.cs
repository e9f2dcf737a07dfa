using System.Buffers.Binary;
using System.Net;
using ProcessCluster.Ipc;
using ProcessCluster.Worker;

namespace ProcessCluster.Tests;

/// <summary>A worker's aggregation of ASP.NET Core's meters, and the HttpMetrics frame that carries it to the primary.</summary>
public class HttpMetricsTests
{
    [Fact]
    public void Measurements_fold_into_sums_and_buckets_a_value_on_a_boundary_in_the_bucket_below_and_nonsense_dropped()
    {
        var aggregator = new HttpMetricsAggregator();
        foreach (var (instrument, value) in new (string, double)[]
        {
            ("kestrel.active_connections", 1), ("kestrel.active_connections", 1), ("kestrel.active_connections", -1),
            ("http.server.active_requests", 1), ("http.server.active_requests", -1), ("http.server.active_requests", 1),
            ("http.server.request.duration", 0.001), ("http.server.request.duration", 0.005), ("http.server.request.duration", 0.3),
            ("http.server.request.duration", 11), ("http.server.request.duration", double.NaN), ("http.server.request.duration", -1),
            ("kestrel.connection.duration", 45), ("kestrel.queued_connections", 1),
        })
        {
            Record(aggregator, instrument, value);
        }

        var metrics = aggregator.Snapshot();
        Assert.Equal((1L, 1L), (metrics.ActiveConnections, metrics.ActiveRequests));
        long[] requestBuckets = [2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]; // ≤0.005 twice, ≤0.5 once, above 10 once
        Assert.Equal(requestBuckets, metrics.RequestDuration.Counts);
        Assert.Equal(11.306, metrics.RequestDuration.Sum, precision: 9);
        Assert.Equal(1, metrics.ConnectionDuration.Counts[HttpMetricsFormat.ConnectionDurationBoundaries.ToList().IndexOf(60)]);
        Assert.Equal(1, metrics.ConnectionDuration.Count);
    }

    [Fact]
    public void Active_sums_never_read_below_zero()
    {
        var aggregator = new HttpMetricsAggregator();
        Record(aggregator, "kestrel.active_connections", -1);
        Assert.Equal(0, aggregator.Snapshot().ActiveConnections);
    }

    [Fact]
    public void A_snapshot_crosses_the_frame_unchanged()
    {
        var aggregator = new HttpMetricsAggregator();
        Record(aggregator, "kestrel.active_connections", 3);
        Record(aggregator, "http.server.active_requests", 2);
        Record(aggregator, "http.server.request.duration", 0.02);
        Record(aggregator, "kestrel.connection.duration", 0.4);
        var sent = aggregator.Snapshot();

        var payload = HttpMetricsFormat.Write(sent);
        var received = HttpMetricsFormat.Read(new Frame(FrameType.HttpMetrics, payload, []));

        Assert.Equal(HttpMetricsFormat.Size, payload.Length);
        Assert.Equal((sent.ActiveConnections, sent.ActiveRequests), (received.ActiveConnections, received.ActiveRequests));
        Assert.Equal(sent.RequestDuration.Counts, received.RequestDuration.Counts);
        Assert.Equal(sent.RequestDuration.Sum, received.RequestDuration.Sum);
        Assert.Equal(sent.ConnectionDuration.Counts, received.ConnectionDuration.Counts);
        Assert.Equal(sent.ConnectionDuration.Sum, received.ConnectionDuration.Sum);
    }

    public static TheoryData<string> Malformed => new() { "short", "long", "descriptor", "negative count", "negative active", "NaN sum", "infinite sum" };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_frame_outside_its_contract_is_a_protocol_violation(string fault)
    {
        var payload = HttpMetricsFormat.Write(WorkerHttpMetrics.Empty);
        var sumOffset = 16 + ((HttpMetricsFormat.RequestDurationBoundaries.Count + 1) * 8);
        int[] fds = [];
        switch (fault)
        {
            case "short": payload = payload[..^1]; break;
            case "long": payload = [.. payload, 0]; break;
            case "descriptor": fds = [0]; break;
            case "negative count": BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(16), -1); break;
            case "negative active": BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(8), -1); break;
            case "NaN sum": BinaryPrimitives.WriteDoubleLittleEndian(payload.AsSpan(sumOffset), double.NaN); break;
            case "infinite sum": BinaryPrimitives.WriteDoubleLittleEndian(payload.AsSpan(^8), double.PositiveInfinity); break;
        }

        Assert.Throws<ProtocolViolationException>(() => HttpMetricsFormat.Read(new Frame(FrameType.HttpMetrics, payload, fds)));
    }

    /// <summary>As the reporter does: an instrument ASP.NET Core publishes is listened to, with its slot, only when it is one folded.</summary>
    private static void Record(HttpMetricsAggregator aggregator, string instrument, double value)
    {
        var meter = instrument.StartsWith("kestrel.", StringComparison.Ordinal) ? "Microsoft.AspNetCore.Server.Kestrel" : "Microsoft.AspNetCore.Hosting";
        if (HttpMetricsAggregator.TryGetSlot(meter, instrument, out var slot))
        {
            aggregator.Record(slot, value);
        }
    }
}
