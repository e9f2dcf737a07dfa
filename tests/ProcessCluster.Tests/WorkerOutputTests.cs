using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using ProcessCluster.Interop;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

/// <summary>Worker output relayed by the primary: splitting into lines, the prefix and JSON, and draining real pipes.</summary>
public sealed class WorkerOutputTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public void Lines_are_whole_however_the_bytes_arrive_and_a_last_partial_line_comes_at_the_end()
    {
        var lines = new List<string>();
        var splitter = new LineSplitter(64, lines.Add);
        foreach (var piece in new[] { "fir", "st\nsec", "ond\r\n", "\n", "thi", "rd without newline" })
        {
            splitter.Write(Encoding.UTF8.GetBytes(piece));
        }

        Assert.Equal(["first", "second", ""], lines);
        splitter.Complete();
        Assert.Equal(["first", "second", "", "third without newline"], lines);
    }

    [Fact]
    public void A_utf8_character_split_across_reads_is_decoded_whole()
    {
        var lines = new List<string>();
        var splitter = new LineSplitter(64, lines.Add);
        var bytes = Encoding.UTF8.GetBytes("é €𝄞\n");
        foreach (var b in bytes)
        {
            splitter.Write([b]);
        }

        Assert.Equal(["é €𝄞"], lines);
    }

    [Fact]
    public void A_long_line_is_cut_into_chunks_of_the_limit_and_a_line_of_exactly_the_limit_is_not()
    {
        var lines = new List<string>();
        var splitter = new LineSplitter(10, lines.Add);
        splitter.Write(Encoding.UTF8.GetBytes(new string('a', 10) + "\n" + new string('b', 25) + "\n"));
        Assert.Equal([new string('a', 10), new string('b', 10), new string('b', 10), new string('b', 5)], lines);
    }

    [Fact]
    public void A_chunk_never_ends_inside_a_surrogate_pair()
    {
        var lines = new List<string>();
        var splitter = new LineSplitter(4, lines.Add);
        splitter.Write(Encoding.UTF8.GetBytes("abc𝄞de\n"));
        Assert.Equal(["abc", "𝄞de"], lines);
    }

    [Fact]
    public void Text_lines_are_prefixed_with_the_worker_id_and_pid()
    {
        var format = new WorkerLineFormat(LogFormat.Text, 3, 4250, "stdout");
        Assert.Equal("[worker 3 pid 4250] hello", format.Format("hello", DateTimeOffset.UnixEpoch));
    }

    [Fact]
    public void Json_lines_are_one_escaped_object_with_the_workers_identity()
    {
        var format = new WorkerLineFormat(LogFormat.Json, 3, 4250, "stderr");
        var timestamp = new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
        const string line = "quote \" backslash \\ tab \t bell \u0007 <html> é";
        var json = format.Format(line, timestamp);

        Assert.DoesNotContain('\n', json);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal(timestamp, root.GetProperty("timestamp").GetDateTimeOffset());
        Assert.Equal(3, root.GetProperty("worker").GetInt32());
        Assert.Equal(4250, root.GetProperty("pid").GetInt32());
        Assert.Equal("stderr", root.GetProperty("stream").GetString());
        Assert.Equal(line, root.GetProperty("line").GetString());
        Assert.Equal(["timestamp", "worker", "pid", "stream", "line"], root.EnumerateObject().Select(property => property.Name));
    }

    [Fact]
    public void Each_pipe_goes_to_its_own_stream_and_the_end_is_seen_when_the_writers_close()
    {
        var (stdoutRead, stdoutWrite) = Pipe();
        var (stderrRead, stderrWrite) = Pipe();
        using var output = new StringWriter();
        using var errors = new StringWriter();
        var relay = WorkerOutput.Start(2, 77, stdoutRead, stderrRead, LogFormat.Text, output, errors);

        stdoutWrite.Write("out 1\nout 2 unterminated"u8);
        stderrWrite.Write("err 1\n"u8);
        Assert.False(relay.WaitForEnd(TimeSpan.FromMilliseconds(50)));
        stdoutWrite.Dispose();
        stderrWrite.Dispose();

        Assert.True(relay.WaitForEnd(Deadline));
        Assert.Equal("[worker 2 pid 77] out 1\n[worker 2 pid 77] out 2 unterminated\n", output.ToString());
        Assert.Equal("[worker 2 pid 77] err 1\n", errors.ToString());
    }

    [Fact]
    public async Task A_failing_target_does_not_stop_the_draining()
    {
        var (stdoutRead, stdoutWrite) = Pipe();
        var (stderrRead, stderrWrite) = Pipe();
        stderrWrite.Dispose();
        using var failing = new FailingWriter();
        var relay = WorkerOutput.Start(1, 1, stdoutRead, stderrRead, LogFormat.Text, failing, failing);

        // Far more than a pipe holds (64 KiB): the writer would block for good, and time out, if nobody read.
        var line = Encoding.UTF8.GetBytes(new string('x', 1000) + "\n");
        var writing = Task.Run(() =>
        {
            for (var i = 0; i < 1024; i++)
            {
                stdoutWrite.Write(line);
            }

            stdoutWrite.Dispose();
        });

        await writing.WaitAsync(Deadline);
        Assert.True(relay.WaitForEnd(Deadline));
        Assert.Equal(1024, failing.Attempts);
    }

    /// <summary>A pipe as the cluster makes them; the write end as a stream, as a worker would write to it.</summary>
    private static unsafe (SafeFileHandle Read, FileStream Write) Pipe()
    {
        var fds = stackalloc int[2];
        Assert.Equal(0, Libc.pipe2(fds, Libc.O_CLOEXEC));
        return (new SafeFileHandle(fds[0], ownsHandle: true), new FileStream(new SafeFileHandle(fds[1], ownsHandle: true), FileAccess.Write, 0));
    }

    private sealed class FailingWriter : TextWriter
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public override Encoding Encoding => Encoding.UTF8;

        public override void WriteLine(string? value)
        {
            Interlocked.Increment(ref _attempts);
            throw new InvalidOperationException("the primary's stdout is gone");
        }
    }
}
