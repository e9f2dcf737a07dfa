using System.Net;
using System.Text;

namespace ProcessCluster.Ipc;

/// <summary>What a backplane message asks of the workers that receive it.</summary>
internal enum BackplaneKind : byte
{
    /// <summary>The worker relays hub messages: send it those of the others (no hub, no targets).</summary>
    Subscribe = 0,

    /// <summary>Every connection of the hub but the excluded ones.</summary>
    All = 1,

    /// <summary>The connections named.</summary>
    Connections = 2,

    /// <summary>The connections in the groups named, but the excluded ones.</summary>
    Groups = 3,

    /// <summary>The connections of the users named.</summary>
    Users = 4,

    /// <summary>Put the connection named (first target) into the group (second target), where it lives.</summary>
    AddToGroup = 5,

    /// <summary>Take the connection named (first target) out of the group (second target), where it lives.</summary>
    RemoveFromGroup = 6,

    /// <summary>
    /// Ask the connection named (first target), where it lives, for a client result: the invocation (its id the second
    /// target) as each protocol serialised it.
    /// </summary>
    Invoke = 7,

    /// <summary>
    /// A client's answer to an <see cref="Invoke"/> (the invocation id the only target), for the worker that asked: the
    /// completion as the client's protocol serialised it (one payload).
    /// </summary>
    Result = 8,
}

/// <summary>A hub message serialised by one hub protocol ("json", "messagepack"), ready to write to its connections.</summary>
internal sealed record ProtocolPayload(string Protocol, ReadOnlyMemory<byte> Bytes);

/// <summary>
/// One message between the workers' SignalR hubs, relayed by the primary (<see cref="FrameType.Backplane"/>): what it
/// asks, the hub's name, its targets (connection ids, groups or users), the connections excluded, and the hub message as
/// each protocol serialised it. The primary reads every message whole before it relays it, so a worker that sends a
/// malformed one loses its channel and the others never see it.
/// </summary>
internal sealed record BackplaneMessage(
    BackplaneKind Kind, string Hub, IReadOnlyList<string> Targets, IReadOnlyList<string> Excluded, IReadOnlyList<ProtocolPayload> Payloads)
{
    public static readonly BackplaneMessage Subscription = new(BackplaneKind.Subscribe, "", [], [], []);

    public byte[] Write()
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write((byte)Kind);
            writer.Write(Hub);
            WriteList(writer, Targets, writer.Write);
            WriteList(writer, Excluded, writer.Write);
            WriteList(writer, Payloads, payload =>
            {
                writer.Write(payload.Protocol);
                writer.Write(payload.Bytes.Length);
                writer.Write(payload.Bytes.Span);
            });
        }

        return stream.ToArray();
    }

    /// <summary>Reads a whole message; throws <see cref="ProtocolViolationException"/> when it is not one, or has bytes after it.</summary>
    public static BackplaneMessage Read(ReadOnlyMemory<byte> payload)
    {
        try
        {
            using var stream = new MemoryStream(payload.ToArray(), writable: false);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            var kind = (BackplaneKind)reader.ReadByte();
            var message = new BackplaneMessage(
                kind,
                reader.ReadString(),
                ReadList(reader, reader.ReadString),
                ReadList(reader, reader.ReadString),
                ReadList(reader, () => new ProtocolPayload(reader.ReadString(), ReadBytes(reader))));
            return stream.Position == stream.Length && message.IsWellFormed()
                ? message
                : throw new ProtocolViolationException($"malformed Backplane frame: a {kind} message of {payload.Length} bytes");
        }
        catch (Exception error) when (error is EndOfStreamException or IOException or FormatException or ArgumentException)
        {
            throw new ProtocolViolationException($"malformed Backplane frame: {error.Message}");
        }
    }

    private bool IsWellFormed() => Kind switch
    {
        BackplaneKind.Subscribe => Hub.Length == 0 && Targets.Count == 0 && Excluded.Count == 0 && Payloads.Count == 0,
        BackplaneKind.All => Hub.Length > 0 && Targets.Count == 0 && Payloads.Count > 0,
        BackplaneKind.Connections or BackplaneKind.Groups or BackplaneKind.Users => Hub.Length > 0 && Targets.Count > 0 && Payloads.Count > 0,
        BackplaneKind.AddToGroup or BackplaneKind.RemoveFromGroup => Hub.Length > 0 && Targets.Count == 2 && Excluded.Count == 0 && Payloads.Count == 0,
        BackplaneKind.Invoke => Hub.Length > 0 && Targets.Count == 2 && Excluded.Count == 0 && Payloads.Count > 0,
        BackplaneKind.Result => Hub.Length > 0 && Targets.Count == 1 && Excluded.Count == 0 && Payloads.Count == 1,
        _ => false,
    };

    private static byte[] ReadBytes(BinaryReader reader)
    {
        var length = reader.ReadInt32();
        var bytes = length >= 0 ? reader.ReadBytes(length) : throw new FormatException($"a payload of {length} bytes");
        return bytes.Length == length ? bytes : throw new EndOfStreamException();
    }

    private static void WriteList<T>(BinaryWriter writer, IReadOnlyList<T> items, Action<T> write)
    {
        writer.Write(items.Count);
        foreach (var item in items)
        {
            write(item);
        }
    }

    private static List<T> ReadList<T>(BinaryReader reader, Func<T> read)
    {
        var count = reader.ReadInt32();
        // Each item takes at least one byte: a count beyond what is left is a lie, not a reason to allocate.
        if (count < 0 || count > reader.BaseStream.Length - reader.BaseStream.Position)
        {
            throw new FormatException($"a list of {count} items");
        }

        var items = new List<T>(count);
        for (var i = 0; i < count; i++)
        {
            items.Add(read());
        }

        return items;
    }
}
