using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;
using ProcessCluster.Primary;
using ProcessCluster.Primary.Channels;

namespace ProcessCluster.Tests;

/// <summary>
/// A worker that breaks the channel protocol, played over real sockets against the primary's real channel code: it
/// loses its channel, one line says why, and the primary carries on.
/// </summary>
/// <remarks>Alone: one test counts the process's open descriptors, which other tests' sockets would add to.</remarks>
[Collection(nameof(ProcessWideCollection))]
public sealed class HostileWorkerTests
{
    public static TheoryData<byte, string> FramesOutsideTheirContract => new()
    {
        { (byte)FrameType.Listening, """{"Addresses":[null]}""" },
        { (byte)FrameType.Listening, """{"Addresses":null}""" },
        { (byte)FrameType.Listening, "{}" },
        { (byte)FrameType.Listening, """{"Addresses":"http://127.0.0.1:1"}""" },
        { (byte)FrameType.Listening, "null" },
        { (byte)FrameType.Heartbeat, new string('x', FrameFormat.HeartbeatSize - 1) },
        { (byte)FrameType.LoadReport, "" },
        { (byte)FrameType.Ack, "12345678" },
        { (byte)FrameType.Message, "{" },
        { (byte)FrameType.Message, "" },
        { (byte)FrameType.Stopping, "now" },
        { (byte)FrameType.Hello, """{"WorkerId":1,"Secret":"again"}""" },
        { (byte)FrameType.Welcome, "{}" },
        { (byte)FrameType.NewConnection, "0123456789" },
        { (byte)FrameType.Disconnect, "" },
        { (byte)FrameType.Shed, "1234" },
        { (byte)FrameType.HealthProbe, "00000000000/health" },
        { (byte)FrameType.HealthResult, "short" },
        { (byte)FrameType.HealthResult, new string('x', FrameFormat.HealthResultSize) }, // status 2021161080
        { (byte)FrameType.HealthResult, new string('x', FrameFormat.HealthResultSize + 1) },
        { (byte)FrameType.Backplane, "" },
        { (byte)FrameType.Backplane, "\u0009" },
        { (byte)FrameType.Backplane, "\u0001" + new string('\0', 13) }, // All, of no hub, with nothing to send
        { (byte)FrameType.Backplane, new string('\0', 14) + "x" }, // a subscription with a byte after it
        { (byte)FrameType.Backplane, "\u0002\u0001h\u007f\u007f\u007f\u007f" }, // a list of 2 billion targets
        { (byte)FrameType.HttpMetrics, "short" },
        { (byte)FrameType.HttpMetrics, new string('x', HttpMetricsFormat.Size + 1) },
        { 99, "" },
    };

    [Theory]
    [MemberData(nameof(FramesOutsideTheirContract))]
    public async Task A_frame_outside_its_contract_drops_that_channel_logs_once_and_the_primary_carries_on(byte type, string payload)
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 2 });
        var log = new RecordingLogger();
        var channel = await cluster.ReadyAsync(1, log);
        var worker = cluster.Workers.Single(w => w.Id == 1);

        var bytes = Encoding.UTF8.GetBytes(payload);
        var frame = new byte[FrameFormat.HeaderSize + bytes.Length];
        FrameFormat.WriteHeader(frame, (FrameType)type, bytes.Length, 0);
        bytes.CopyTo(frame, FrameFormat.HeaderSize);
        SocketInterop.Send(channel.Fd, frame, default);

        await cluster.UntilAsync(_ => worker.Channel is null, "the channel dropped");
        Assert.Single(log.Lines);
        Assert.Contains("Dropped the channel", log.Lines.Single());

        // The loop still applies events: the next worker comes up.
        await cluster.ReadyAsync(2);
        Assert.DoesNotContain(cluster.Observer.Facts, fact => fact.StartsWith("halted", StringComparison.Ordinal));
    }

    /// <summary>
    /// A bug met on a worker's channel thread (here: the distribution throws on its acknowledgements) drops that
    /// channel with one line; without the catch-all it would end the process, this test's host with it.
    /// </summary>
    [Fact]
    public async Task An_unexpected_failure_on_a_channel_thread_drops_that_channel_and_the_primary_carries_on()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 2 });
        var log = new RecordingLogger();
        var channel = await cluster.ReadyAsync(1, log);
        var worker = cluster.Workers.Single(w => w.Id == 1);
        cluster.Distribution.AckFault = new InvalidOperationException("a bug on cue");

        channel.Send(FrameType.Ack, FrameFormat.WriteAcks([(1, true)]));

        await cluster.UntilAsync(_ => worker.Channel is null, "the channel dropped");
        Assert.Contains("its thread failed unexpectedly", Assert.Single(log.Lines));
        await cluster.ReadyAsync(2);
        Assert.DoesNotContain(cluster.Observer.Facts, fact => fact.StartsWith("halted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Descriptors_a_worker_sends_never_enter_the_primarys_table_and_drop_its_channel()
    {
        await using var cluster = new SupervisorHarness(new ClusterOptions { Workers = 1 });
        var channel = await cluster.ReadyAsync(1);
        var worker = cluster.Workers.Single();
        using var passed = File.OpenHandle("/dev/null");
        var calm = OpenDescriptors();

        // Heartbeats whose headers declare no descriptors, each carrying one: sent until the socket is full.
        var frame = new byte[FrameFormat.HeaderSize + FrameFormat.HeartbeatSize];
        FrameFormat.WriteHeader(frame, FrameType.Heartbeat, FrameFormat.HeartbeatSize, 0);
        var sent = 0;
        while (sent < 200 && SocketInterop.TrySend(channel.Fd, frame, [(int)passed.DangerousGetHandle()]) > 0)
        {
            sent++;
        }

        var deadline = DateTime.UtcNow + SupervisorHarness.Deadline;
        while (worker.Channel is not null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.True(OpenDescriptors() - calm < 16, $"{OpenDescriptors() - calm} more descriptors open after {sent} frames");
        Assert.Null(worker.Channel);
    }

    [Theory]
    [InlineData("""{"WorkerId":1,"Secret":null}""", "malformed Hello")]
    [InlineData("""{"WorkerId":1,"Secret":"s","Protocol":1,"Library":"1.0\u001b[2J"}""", "Hello with a library version with control characters")]
    [InlineData("""{"WorkerId":1,"Secret":"s","Protocol":"one"}""", "malformed Hello")]
    public async Task A_hello_without_a_secret_or_with_a_bad_version_is_refused_at_the_door(string hello, string reason)
    {
        var opened = new ConcurrentQueue<SupervisorEvent>();
        var refusals = new RefusalRecorder();
        var distribution = new SupervisorHarness.FakeDistribution();
        var session = new WorkerChannelSession(new Welcome(new ClusterOptions(), [], distribution, reportsLoad: false), distribution, new BackplaneRelay(NullLogger.Instance), opened.Enqueue, NullLogger.Instance);
        using var listener = new ChannelListener(4096, opened.Enqueue, session, refusals);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint("\0" + listener.Name));
        using var channel = new IpcChannel(socket, 4096);

        channel.Send(FrameType.Hello, System.Text.Encoding.UTF8.GetBytes(hello));

        var deadline = DateTime.UtcNow + SupervisorHarness.Deadline;
        while (refusals.Reasons.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.Contains(reason, Assert.Single(refusals.Reasons));
        Assert.Empty(opened);
    }

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    private sealed class RefusalRecorder : IClusterObserver
    {
        public ConcurrentQueue<string> Reasons { get; } = new();

        public void ChannelRefused(int pid, string reason) => Reasons.Enqueue(reason);
    }
}
