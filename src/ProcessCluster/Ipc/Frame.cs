using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace ProcessCluster.Ipc;

/// <summary>What a frame on the primary–worker channel carries.</summary>
internal enum FrameType : byte
{
    /// <summary>Worker → primary, first frame: its id and secret.</summary>
    Hello = 1,

    /// <summary>Primary → worker: the endpoints, and in Shared mode their listening descriptors.</summary>
    Welcome = 2,

    /// <summary>Worker → primary: the app listens; the worker is ready for connections.</summary>
    Listening = 3,

    /// <summary>Primary → worker: accepted connections (one or more), their descriptors attached.</summary>
    NewConnection = 4,

    /// <summary>Worker → primary: a connection was taken (or refused, to be sent elsewhere).</summary>
    Ack = 5,

    /// <summary>Either way: an application message (JSON).</summary>
    Message = 6,

    /// <summary>Primary → worker: stop taking connections, finish what is in flight, exit.</summary>
    Disconnect = 7,

    /// <summary>Worker → primary: the app is shutting down; send it nothing more.</summary>
    Stopping = 8,

    /// <summary>Worker → primary, from its thread pool every heartbeat interval: alive, and its request counters.</summary>
    Heartbeat = 9,

    /// <summary>Primary → worker: close this many keep-alive connections after their next response (rebalancing).</summary>
    Shed = 10,

    /// <summary>
    /// Worker → primary, from a timer directly, when the primary scales or balances by load: the Heartbeat payload, but
    /// not a sign of life (timer callbacks run even when the thread pool is starved).
    /// </summary>
    LoadReport = 11,

    /// <summary>Primary → worker: ask yourself for the app's health path (Cluster:WorkerHealthPath) and answer.</summary>
    HealthProbe = 12,

    /// <summary>Worker → primary: the HTTP status the health path answered (0: no answer).</summary>
    HealthResult = 13,

    /// <summary>
    /// Either way: a SignalR backplane message (<see cref="BackplaneMessage"/>). A worker sends it to the primary, which
    /// relays it to every other worker that subscribed.
    /// </summary>
    Backplane = 14,

    /// <summary>
    /// Primary → worker: the primary is about to re-execute itself (an in-place upgrade). Answer Paused, then send
    /// nothing until Resume: the primary's next program reads the channel from the frame after Paused.
    /// </summary>
    Pause = 15,

    /// <summary>Worker → primary: the last frame before Resume.</summary>
    Paused = 16,

    /// <summary>Primary → worker: the primary (its new program, or the old one when the upgrade was called off) reads again.</summary>
    Resume = 17,

    /// <summary>
    /// Worker → primary, when its welcome asked for them and they changed: the app server's own HTTP metrics
    /// (<see cref="HttpMetricsFormat"/>), for the primary's Prometheus endpoint.
    /// </summary>
    HttpMetrics = 18,
}

/// <summary>A worker's counters as its heartbeat carries them; busy time and clock are cumulative microseconds.</summary>
internal readonly record struct WorkerLoadReport(long Requests, int InFlight, long BusyMicroseconds, long ClockMicroseconds, int OpenConnections);

/// <summary>One frame: its type, payload and the descriptors that came with it (owned by the receiver).</summary>
internal sealed record Frame(FrameType Type, byte[] Payload, int[] Fds);

/// <summary>
/// The wire format: a 6-byte header (payload length, little-endian uint32; type; descriptor count) then the payload.
/// Descriptors travel as SCM_RIGHTS on the frame's first byte, so they reach the receiver no later than the header.
/// </summary>
internal static class FrameFormat
{
    public const int HeaderSize = 6;

    public static int WriteHeader(Span<byte> destination, FrameType type, int payloadLength, int fdCount)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)payloadLength);
        destination[4] = (byte)type;
        destination[5] = (byte)fdCount;
        return HeaderSize;
    }

    public static bool IsKnown(FrameType type) => type is >= FrameType.Hello and <= FrameType.HttpMetrics;

    /// <summary>
    /// NewConnection payload: one entry per connection (connection id, int64; endpoint index, uint16), in the order of
    /// the descriptors the frame carries; the header declares their count, and the two must agree.
    /// </summary>
    public const int NewConnectionEntrySize = 10;

    public static void WriteNewConnection(Span<byte> destination, long connectionId, int endpoint)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination, connectionId);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], (ushort)endpoint);
    }

    public static (long ConnectionId, int Endpoint)[] ReadNewConnections(Frame frame)
    {
        if (frame.Fds.Length == 0 || frame.Payload.Length != frame.Fds.Length * NewConnectionEntrySize)
        {
            throw new ProtocolViolationException(
                $"malformed NewConnection frame: {frame.Payload.Length} bytes and {frame.Fds.Length} descriptors, expected {NewConnectionEntrySize} bytes per descriptor");
        }

        var entries = new (long, int)[frame.Fds.Length];
        for (var i = 0; i < entries.Length; i++)
        {
            var entry = frame.Payload.AsSpan(i * NewConnectionEntrySize);
            entries[i] = (BinaryPrimitives.ReadInt64LittleEndian(entry), BinaryPrimitives.ReadUInt16LittleEndian(entry[8..]));
        }

        return entries;
    }

    /// <summary>
    /// Heartbeat payload: requests started so far (int64), requests in flight (int32), time spent with at least one
    /// request in flight (int64 µs), the worker's monotonic clock (int64 µs), so the primary can tell busy fractions,
    /// and open connections (int32).
    /// </summary>
    public const int HeartbeatSize = 32;

    public static void WriteHeartbeat(Span<byte> destination, WorkerLoadReport report)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination, report.Requests);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], report.InFlight);
        BinaryPrimitives.WriteInt64LittleEndian(destination[12..], report.BusyMicroseconds);
        BinaryPrimitives.WriteInt64LittleEndian(destination[20..], report.ClockMicroseconds);
        BinaryPrimitives.WriteInt32LittleEndian(destination[28..], report.OpenConnections);
    }

    public static WorkerLoadReport ReadHeartbeat(Frame frame)
    {
        Expect(frame, HeartbeatSize, 0);
        var payload = frame.Payload.AsSpan();
        return new WorkerLoadReport(
            BinaryPrimitives.ReadInt64LittleEndian(payload),
            BinaryPrimitives.ReadInt32LittleEndian(payload[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(payload[12..]),
            BinaryPrimitives.ReadInt64LittleEndian(payload[20..]),
            BinaryPrimitives.ReadInt32LittleEndian(payload[28..]));
    }

    /// <summary>Shed payload: how many connections to close (int32).</summary>
    public const int ShedSize = 4;

    public static byte[] WriteShed(int count)
    {
        var payload = new byte[ShedSize];
        BinaryPrimitives.WriteInt32LittleEndian(payload, count);
        return payload;
    }

    public static int ReadShed(Frame frame)
    {
        Expect(frame, ShedSize, 0);
        return BinaryPrimitives.ReadInt32LittleEndian(frame.Payload);
    }

    /// <summary>HealthProbe payload: probe id (int64), how long the worker may take (int32 ms), then the path in UTF-8.</summary>
    public static byte[] WriteHealthProbe(long id, TimeSpan timeout, string path)
    {
        var payload = new byte[12 + Encoding.UTF8.GetByteCount(path)];
        BinaryPrimitives.WriteInt64LittleEndian(payload, id);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(8), (int)timeout.TotalMilliseconds);
        Encoding.UTF8.GetBytes(path, payload.AsSpan(12));
        return payload;
    }

    public static (long Id, TimeSpan Timeout, string Path) ReadHealthProbe(Frame frame)
    {
        if (frame.Payload.Length <= 12 || frame.Fds.Length != 0)
        {
            throw new ProtocolViolationException($"malformed HealthProbe frame: {frame.Payload.Length} bytes and {frame.Fds.Length} descriptors");
        }

        var timeout = BinaryPrimitives.ReadInt32LittleEndian(frame.Payload.AsSpan(8));
        var path = Encoding.UTF8.GetString(frame.Payload.AsSpan(12));
        return timeout > 0 && path.StartsWith('/')
            ? (BinaryPrimitives.ReadInt64LittleEndian(frame.Payload), TimeSpan.FromMilliseconds(timeout), path)
            : throw new ProtocolViolationException($"malformed HealthProbe frame: timeout {timeout} ms, path {path}");
    }

    /// <summary>HealthResult payload: probe id (int64) and HTTP status (int32, 0 when there was none).</summary>
    public const int HealthResultSize = 12;

    public static byte[] WriteHealthResult(long id, int status)
    {
        var payload = new byte[HealthResultSize];
        BinaryPrimitives.WriteInt64LittleEndian(payload, id);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(8), status);
        return payload;
    }

    public static (long Id, int Status) ReadHealthResult(Frame frame)
    {
        Expect(frame, HealthResultSize, 0);
        var status = BinaryPrimitives.ReadInt32LittleEndian(frame.Payload.AsSpan(8));
        return status is >= 0 and <= 999
            ? (BinaryPrimitives.ReadInt64LittleEndian(frame.Payload), status)
            : throw new ProtocolViolationException($"a HealthResult frame with status {status}");
    }

    /// <summary>Ack payload: one or more (connection id, whether the worker took it) entries of 9 bytes each.</summary>
    public const int AckEntrySize = 9;

    public static byte[] WriteAcks(IReadOnlyList<(long ConnectionId, bool Accepted)> acks)
    {
        var payload = new byte[acks.Count * AckEntrySize];
        for (var i = 0; i < acks.Count; i++)
        {
            var entry = payload.AsSpan(i * AckEntrySize);
            BinaryPrimitives.WriteInt64LittleEndian(entry, acks[i].ConnectionId);
            entry[8] = acks[i].Accepted ? (byte)1 : (byte)0;
        }

        return payload;
    }

    public static (long ConnectionId, bool Accepted)[] ReadAcks(Frame frame)
    {
        if (frame.Payload.Length == 0 || frame.Payload.Length % AckEntrySize != 0 || frame.Fds.Length != 0)
        {
            throw new ProtocolViolationException($"malformed Ack frame: {frame.Payload.Length} bytes and {frame.Fds.Length} descriptors");
        }

        var acks = new (long, bool)[frame.Payload.Length / AckEntrySize];
        for (var i = 0; i < acks.Length; i++)
        {
            var entry = frame.Payload.AsSpan(i * AckEntrySize);
            acks[i] = (BinaryPrimitives.ReadInt64LittleEndian(entry), entry[8] != 0);
        }

        return acks;
    }

    private static void Expect(Frame frame, int payloadLength, int fdCount)
    {
        if (frame.Payload.Length != payloadLength || frame.Fds.Length != fdCount)
        {
            throw new ProtocolViolationException(
                $"malformed {frame.Type} frame: {frame.Payload.Length} bytes and {frame.Fds.Length} descriptors, expected {payloadLength} and {fdCount}");
        }
    }
}
