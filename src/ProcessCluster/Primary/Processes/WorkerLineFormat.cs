using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ProcessCluster.Primary;

/// <summary>How the primary prints one line of a worker's stdout or stderr: prefixed text, or one JSON object.</summary>
internal sealed class WorkerLineFormat
{
    // The output is a log stream, not HTML: only what JSON itself requires is escaped, so text stays readable.
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly LogFormat _format;
    private readonly int _workerId;
    private readonly int _pid;
    private readonly string _stream;
    private readonly string _prefix;

    /// <param name="stream">"stdout" or "stderr".</param>
    public WorkerLineFormat(LogFormat format, int workerId, int pid, string stream)
    {
        _format = format;
        _workerId = workerId;
        _pid = pid;
        _stream = stream;
        _prefix = $"[worker {workerId} pid {pid}] ";
    }

    /// <summary>The line as printed, without its newline.</summary>
    public string Format(string line, DateTimeOffset timestamp) => _format == LogFormat.Json ? Json(line, timestamp) : _prefix + line;

    private string Json(string line, DateTimeOffset timestamp)
    {
        var buffer = new ArrayBufferWriter<byte>(line.Length + 128);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("timestamp", timestamp);
            writer.WriteNumber("worker", _workerId);
            writer.WriteNumber("pid", _pid);
            writer.WriteString("stream", _stream);
            writer.WriteString("line", line);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
