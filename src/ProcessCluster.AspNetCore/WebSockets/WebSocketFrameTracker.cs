namespace ProcessCluster.AspNetCore.WebSockets;

/// <summary>
/// Follows the frames a server writes on a WebSocket connection (RFC 6455 §5.2), byte by byte, whatever the writes'
/// sizes, to tell when a close frame may go out without cutting a message: between frames, and not inside a data
/// message sent in fragments. Control frames (ping, pong) may come between fragments and change nothing.
/// </summary>
internal sealed class WebSocketFrameTracker
{
    private const int MaxHeaderSize = 14;
    private readonly byte[] _header = new byte[MaxHeaderSize];
    private int _headerBytes;
    private long _payloadLeft;
    private bool _inMessage;

    /// <summary>True between frames and outside any fragmented data message.</summary>
    public bool AtMessageBoundary => _headerBytes == 0 && _payloadLeft == 0 && !_inMessage;

    public void Observe(ReadOnlySpan<byte> written)
    {
        while (!written.IsEmpty)
        {
            if (_payloadLeft > 0)
            {
                var skipped = (int)Math.Min(_payloadLeft, written.Length);
                _payloadLeft -= skipped;
                written = written[skipped..];
                continue;
            }

            _header[_headerBytes++] = written[0];
            written = written[1..];
            if (_headerBytes >= 2 && _headerBytes == HeaderSize())
            {
                EndHeader();
            }
        }
    }

    /// <summary>Two bytes, then 2 or 8 bytes of extended length, then a 4-byte mask key if masked.</summary>
    private int HeaderSize() => 2 + (_header[1] & 0x7F) switch { 126 => 2, 127 => 8, _ => 0 } + ((_header[1] & 0x80) != 0 ? 4 : 0);

    private void EndHeader()
    {
        var length = _header[1] & 0x7F;
        _payloadLeft = length switch
        {
            126 => (_header[2] << 8) | _header[3],
            127 => (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan(2, 8)),
            _ => length,
        };
        var final = (_header[0] & 0x80) != 0;
        var opcode = _header[0] & 0x0F;
        if (opcode < 0x8)
        {
            // Text, binary or continuation: the message is open until a frame with FIN ends it.
            _inMessage = !final;
        }

        _headerBytes = 0;
    }
}
