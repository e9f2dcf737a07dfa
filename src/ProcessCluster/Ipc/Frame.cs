using System.Buffers.Binary;
using System.Net;

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

    /// <summary>Primary → worker: one accepted connection, its descriptor attached.</summary>
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
}

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

    public static bool IsKnown(FrameType type) => type is >= FrameType.Hello and <= FrameType.Heartbeat;

    /// <summary>NewConnection payload: connection id and endpoint index.</summary>
    public static void WriteNewConnection(Span<byte> destination, long connectionId, int endpoint)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination, connectionId);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], (ushort)endpoint);
    }

    public const int NewConnectionSize = 10;

    public static (long ConnectionId, int Endpoint) ReadNewConnection(Frame frame)
    {
        Expect(frame, NewConnectionSize, 1);
        return (BinaryPrimitives.ReadInt64LittleEndian(frame.Payload), BinaryPrimitives.ReadUInt16LittleEndian(frame.Payload.AsSpan(8)));
    }

    /// <summary>Heartbeat payload: requests served so far (int64) and requests in flight (int32).</summary>
    public const int HeartbeatSize = 12;

    public static void WriteHeartbeat(Span<byte> destination, long requests, int inFlight)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination, requests);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], inFlight);
    }

    public static (long Requests, int InFlight) ReadHeartbeat(Frame frame)
    {
        Expect(frame, HeartbeatSize, 0);
        return (BinaryPrimitives.ReadInt64LittleEndian(frame.Payload), BinaryPrimitives.ReadInt32LittleEndian(frame.Payload.AsSpan(8)));
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
