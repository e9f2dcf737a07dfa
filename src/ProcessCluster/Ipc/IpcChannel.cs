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
    private readonly bool _receivesDescriptors;
    private readonly Lock _sendLock = new();
    private readonly Lock _closeLock = new();
    private int _disposed;
    private byte[]? _unsentTail;

    /// <param name="receivesDescriptors">
    /// Whether frames may bring descriptors (the worker's end: Welcome, NewConnection). The primary's end takes none, so
    /// a worker cannot fill the primary's descriptor table: any it sends are discarded by the kernel and drop the channel.
    /// </param>
    public IpcChannel(Socket socket, int maxPayload, bool receivesDescriptors = false)
    {
        _receivesDescriptors = receivesDescriptors;
        _socket = socket;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        _decoder = new FrameDecoder(maxPayload);
        MaxPayload = maxPayload;
    }

    public int MaxPayload { get; }

    public int Fd => _fd;

    public void Send(FrameType type, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        var length = CheckedLength(type, payload);
        var frame = length <= 256 ? stackalloc byte[length] : new byte[length];
        Encode(frame, type, payload, fds.Length);
        lock (_sendLock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            if (_unsentTail is { } tail)
            {
                SocketInterop.Send(_fd, tail, default);
                _unsentTail = null;
            }

            SocketInterop.Send(_fd, frame, fds);
        }
    }

    /// <summary>
    /// Sends a frame without waiting for room or for another sender: false when the socket is full (nothing sent, the
    /// descriptors stay the caller's). The descriptors travel with the first byte, so once any byte is out the frame counts as sent; a tail
    /// that did not fit is kept and goes out before any other frame (<see cref="HasUnsentTail"/>, <see cref="TryFlush"/>).
    /// </summary>
    public bool TrySend(FrameType type, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        var length = CheckedLength(type, payload);
        var frame = length <= 256 ? stackalloc byte[length] : new byte[length];
        Encode(frame, type, payload, fds.Length);
        // Another sender holding the channel (an application message waiting for room) counts as a full socket.
        if (!_sendLock.TryEnter())
        {
            return false;
        }

        try
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            if (!FlushTail())
            {
                return false;
            }

            var sent = SocketInterop.TrySend(_fd, frame, fds);
            if (sent > 0 && sent < frame.Length)
            {
                _unsentTail = frame[sent..].ToArray();
            }

            return sent > 0;
        }
        finally
        {
            _sendLock.Exit();
        }
    }

    /// <summary>A frame sent by <see cref="TrySend"/> is not whole on the wire yet.</summary>
    public bool HasUnsentTail
    {
        get
        {
            lock (_sendLock)
            {
                return _unsentTail is not null;
            }
        }
    }

    /// <summary>Sends what is left of a half-sent frame, without waiting; true once nothing is left.</summary>
    public bool TryFlush()
    {
        lock (_sendLock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            return FlushTail();
        }
    }

    /// <summary>Something sent on this channel waits for the peer to read it.</summary>
    public bool HasUnread
    {
        get
        {
            lock (_closeLock)
            {
                ObjectDisposedException.ThrowIf(_disposed != 0, this);
                return SocketInterop.Unread(_fd) > 0;
            }
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for room to send (POLLOUT).</summary>
    public bool WaitWritable(TimeSpan timeout) => _socket.Poll(timeout, SelectMode.SelectWrite);

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

            var received = SocketInterop.Receive(_fd, _decoder.GetReceiveSpace(), _receivesDescriptors ? _decoder.Fds : null);
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
        // Under Dispose's close lock: once disposed, the number may already name another descriptor. Not the send
        // lock, which a sender waiting for room holds, so a shutdown never waits for the peer.
        lock (_closeLock)
        {
            if (_disposed == 0)
            {
                SocketInterop.Shutdown(_fd);
            }
        }
    }

    public void Dispose()
    {
        lock (_sendLock)
        lock (_closeLock)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _socket.Dispose();
        }

        _decoder.Dispose();
    }

    private bool FlushTail()
    {
        if (_unsentTail is not { } tail)
        {
            return true;
        }

        var sent = SocketInterop.TrySend(_fd, tail, default);
        _unsentTail = sent == tail.Length ? null : tail[sent..];
        return _unsentTail is null;
    }

    /// <summary>The frame's length on the wire, once its payload is known to fit the limit.</summary>
    private int CheckedLength(FrameType type, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayload)
        {
            throw new ArgumentException($"a {type} frame of {payload.Length} bytes exceeds the limit of {MaxPayload}", nameof(payload));
        }

        return FrameFormat.HeaderSize + payload.Length;
    }

    private static void Encode(Span<byte> frame, FrameType type, ReadOnlySpan<byte> payload, int fdCount)
    {
        FrameFormat.WriteHeader(frame, type, payload.Length, fdCount);
        payload.CopyTo(frame[FrameFormat.HeaderSize..]);
    }
}
