using System.Buffers.Binary;
using System.Net;
using ProcessCluster.Interop;

namespace ProcessCluster.Ipc;

/// <summary>
/// Cuts a byte stream (with descriptors received alongside it) into frames. Any violation — an oversized length,
/// an unknown type, descriptors missing or undeclared — throws <see cref="ProtocolViolationException"/>; the channel is then dropped.
/// </summary>
internal sealed class FrameDecoder : IDisposable
{
    private readonly int _maxPayload;
    private byte[] _buffer;
    private int _start;
    private int _end;

    // Stream bytes received so far, and for each descriptor in Fds (oldest first) that count just after the read it
    // came with: a frame's descriptors come in the read holding its first byte, so one that came no later than a
    // frame's last byte and is left once that frame took its own was declared by no frame.
    private long _received;
    private readonly Queue<long> _fdArrivals = new();

    public FrameDecoder(int maxPayload, int initialCapacity = 16 * 1024)
    {
        _maxPayload = maxPayload;
        _buffer = new byte[Math.Min(initialCapacity, FrameFormat.HeaderSize + maxPayload)];
    }

    /// <summary>Descriptors received and not yet claimed by a frame, in arrival order.</summary>
    public Queue<int> Fds { get; } = new();

    /// <summary>Space to receive into; <see cref="Advance"/> with the count received.</summary>
    public Span<byte> GetReceiveSpace()
    {
        if (_start > 0 && _end == _buffer.Length)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            // Only reached while a frame longer than the buffer is still arriving; its length was checked.
            Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, FrameFormat.HeaderSize + _maxPayload));
        }

        return _buffer.AsSpan(_end);
    }

    public void Advance(int count)
    {
        _end += count;
        _received += count;
        while (_fdArrivals.Count < Fds.Count)
        {
            _fdArrivals.Enqueue(_received);
        }
    }

    public bool TryRead(out Frame frame)
    {
        frame = null!;
        var available = _end - _start;
        if (available < FrameFormat.HeaderSize)
        {
            return false;
        }

        var header = _buffer.AsSpan(_start, FrameFormat.HeaderSize);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var type = (FrameType)header[4];
        int fdCount = header[5];
        if (length > (uint)_maxPayload)
        {
            throw new ProtocolViolationException($"frame of {length} bytes exceeds the limit of {_maxPayload}");
        }

        if (!FrameFormat.IsKnown(type))
        {
            throw new ProtocolViolationException($"unknown frame type {(byte)type}");
        }

        if (fdCount > SocketInterop.MaxFdsPerMessage)
        {
            throw new ProtocolViolationException($"frame claims {fdCount} descriptors");
        }

        if (available < FrameFormat.HeaderSize + (int)length)
        {
            if (_start > 0 && _buffer.Length - _start < FrameFormat.HeaderSize + (int)length)
            {
                // Make room for the whole frame from the front of the buffer.
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, available);
                _start = 0;
                _end = available;
            }

            return false;
        }

        if (Fds.Count < fdCount)
        {
            throw new ProtocolViolationException($"{type} frame expects {fdCount} descriptors but {Fds.Count} arrived");
        }

        var fds = new int[fdCount];
        for (var i = 0; i < fdCount; i++)
        {
            fds[i] = Fds.Dequeue();
            _fdArrivals.TryDequeue(out _);
        }

        var frameEnd = _received - available + FrameFormat.HeaderSize + length;
        if (_fdArrivals.TryPeek(out var arrival) && arrival <= frameEnd)
        {
            // Kept, they would pile up in this process or be taken for a later frame's connection.
            Array.ForEach(fds, SocketInterop.Close);
            CloseQueued();
            throw new ProtocolViolationException($"a {type} frame came with descriptors it did not declare");
        }

        var payload = _buffer.AsSpan(_start + FrameFormat.HeaderSize, (int)length).ToArray();
        _start += FrameFormat.HeaderSize + (int)length;
        if (_start == _end)
        {
            _start = _end = 0;
        }

        frame = new Frame(type, payload, fds);
        return true;
    }

    /// <summary>Closes descriptors that arrived but no frame claimed.</summary>
    public void Dispose() => CloseQueued();

    private void CloseQueued()
    {
        while (Fds.TryDequeue(out var fd))
        {
            SocketInterop.Close(fd);
        }

        _fdArrivals.Clear();
    }
}
