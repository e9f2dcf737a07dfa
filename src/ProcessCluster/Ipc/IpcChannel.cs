using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ProcessCluster.Interop;

namespace ProcessCluster.Ipc;

/// <summary>
/// One end of the primary–worker channel: a blocking Unix stream socket carrying frames and descriptors.
/// Any thread may send (sends are serialised); one thread reads.
/// </summary>
internal sealed class IpcChannel : IDisposable
{
    private readonly Socket _socket;
    private readonly int _fd;
    private readonly FrameDecoder _decoder;
    private readonly Lock _sendLock = new();
    private int _disposed;

    public IpcChannel(Socket socket, int maxPayload)
    {
        _socket = socket;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        _decoder = new FrameDecoder(maxPayload);
        MaxPayload = maxPayload;
    }

    public int MaxPayload { get; }

    public int Fd => _fd;

    public void Send(FrameType type, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        if (payload.Length > MaxPayload)
        {
            throw new ArgumentException($"a {type} frame of {payload.Length} bytes exceeds the limit of {MaxPayload}", nameof(payload));
        }

        var length = FrameFormat.HeaderSize + payload.Length;
        var buffer = length <= 256 ? stackalloc byte[length] : new byte[length];
        FrameFormat.WriteHeader(buffer, type, payload.Length, fds.Length);
        payload.CopyTo(buffer[FrameFormat.HeaderSize..]);
        lock (_sendLock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            SocketInterop.Send(_fd, buffer, fds);
        }
    }

    public void SendJson<T>(FrameType type, T message, JsonTypeInfo<T> typeInfo, ReadOnlySpan<int> fds = default) =>
        Send(type, JsonSerializer.SerializeToUtf8Bytes(message, typeInfo), fds);

    /// <summary>Blocks for the next frame; null at end of stream. Throws <see cref="ProtocolViolationException"/> on a bad frame.</summary>
    public Frame? Receive()
    {
        while (true)
        {
            if (_decoder.TryRead(out var frame))
            {
                return frame;
            }

            var received = SocketInterop.Receive(_fd, _decoder.GetReceiveSpace(), _decoder.Fds);
            if (received == 0)
            {
                return null;
            }

            _decoder.Advance(received);
        }
    }

    /// <summary>Bounds how long a send may block on a peer that does not read.</summary>
    public void SetSendTimeout(TimeSpan timeout) => SocketInterop.SetTimeout(_fd, send: true, timeout);

    public void SetReceiveTimeout(TimeSpan timeout) => SocketInterop.SetTimeout(_fd, send: false, timeout);

    /// <summary>Reads a JSON payload, turning bad JSON into a protocol violation.</summary>
    public static T ReadJson<T>(Frame frame, JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return JsonSerializer.Deserialize(frame.Payload, typeInfo) ?? throw new ProtocolViolationException($"empty {frame.Type} frame");
        }
        catch (JsonException error)
        {
            throw new ProtocolViolationException($"malformed {frame.Type} frame: {error.Message}");
        }
    }

    /// <summary>Wakes the reader (it sees end of stream) without racing it for the descriptor.</summary>
    public void Shutdown()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            SocketInterop.Shutdown(_fd);
        }
    }

    public void Dispose()
    {
        lock (_sendLock)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _socket.Dispose();
        }

        _decoder.Dispose();
    }
}
