using System.Text;

namespace ProcessCluster.Primary;

/// <summary>
/// Turns a byte stream (a worker's stdout or stderr, read in arbitrary pieces) into whole lines. A line longer than
/// <c>maxLength</c> characters is passed on in chunks of that length, so a worker that never prints a newline cannot
/// make the primary buffer without bound. A trailing CR is dropped (CRLF line ends).
/// </summary>
internal sealed class LineSplitter
{
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private readonly char[] _decoded = new char[4096];
    private readonly char[] _line;
    private readonly Action<string> _emit;
    private int _length;

    public LineSplitter(int maxLength, Action<string> emit)
    {
        // Two at least, so that a chunk can always end before a surrogate pair instead of inside it.
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 2);
        _line = new char[maxLength];
        _emit = emit;
    }

    /// <summary>Takes the next bytes; passes on every line they complete. A UTF-8 sequence may be split across calls.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            _decoder.Convert(bytes, _decoded, flush: false, out var used, out var produced, out _);
            bytes = bytes[used..];
            Split(_decoded.AsSpan(0, produced));
        }
    }

    /// <summary>End of the stream: passes on the last line even without its newline.</summary>
    public void Complete()
    {
        _decoder.Convert(ReadOnlySpan<byte>.Empty, _decoded, flush: true, out _, out var produced, out _);
        Split(_decoded.AsSpan(0, produced));
        if (_length > 0)
        {
            EmitLine();
        }
    }

    private void Split(ReadOnlySpan<char> chars)
    {
        while (true)
        {
            var newline = chars.IndexOf('\n');
            Append(newline < 0 ? chars : chars[..newline]);
            if (newline < 0)
            {
                return;
            }

            EmitLine();
            chars = chars[(newline + 1)..];
        }
    }

    private void Append(ReadOnlySpan<char> chars)
    {
        while (_length + chars.Length > _line.Length)
        {
            var room = _line.Length - _length;
            if (room > 0 && char.IsHighSurrogate(chars[room - 1]))
            {
                room--;
            }

            chars[..room].CopyTo(_line.AsSpan(_length));
            _length += room;
            chars = chars[room..];
            _emit(new string(_line, 0, _length));
            _length = 0;
        }

        chars.CopyTo(_line.AsSpan(_length));
        _length += chars.Length;
    }

    private void EmitLine()
    {
        var length = _length > 0 && _line[_length - 1] == '\r' ? _length - 1 : _length;
        _length = 0;
        _emit(new string(_line, 0, length));
    }
}
