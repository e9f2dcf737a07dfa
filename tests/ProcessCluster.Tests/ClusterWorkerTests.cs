using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using ProcessCluster.Ipc;
using ProcessCluster.Worker;

namespace ProcessCluster.Tests;

/// <summary>
/// A real <see cref="ClusterWorker"/> over a real Unix socket, the test playing the primary's end: the handshake,
/// and what the worker makes of the primary's frames whatever the app's start-up order.
/// </summary>
public sealed class ClusterWorkerTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly Socket _workerSocket;
    private readonly IpcChannel _primary;
    private readonly ConcurrentQueue<string> _lostReasons = new();

    public ClusterWorkerTests()
    {
        (_workerSocket, var primarySocket) = UnixSocketPair.Create();
        _primary = new IpcChannel(primarySocket, 65536);
    }

    public void Dispose()
    {
        _primary.Dispose();
        _workerSocket.Dispose();
    }

    [Fact]
    public async Task A_disconnect_request_that_came_before_the_handler_still_runs_it_once()
    {
        var worker = await ConnectAsync();
        var delivered = new SemaphoreSlim(0);
        worker.Message += (_, _) => delivered.Release();
        // Frames are handled in order: once the message behind it is delivered, the reader has handled the request.
        _primary.Send(FrameType.Disconnect, []);
        _primary.Send(FrameType.Message, "1"u8);
        Assert.True(await delivered.WaitAsync(Deadline));
        Assert.True(worker.IsDisconnectRequested);

        var runs = 0;
        worker.DisconnectRequested += (_, _) => Interlocked.Increment(ref runs);
        await Eventually.UntilAsync(() => Volatile.Read(ref runs) > 0, "the handler run", Deadline);

        _primary.Send(FrameType.Disconnect, []);
        _primary.Send(FrameType.Message, "2"u8);
        Assert.True(await delivered.WaitAsync(Deadline));
        Assert.Equal(1, Volatile.Read(ref runs));
    }

    [Fact]
    public async Task A_handler_attached_before_the_request_runs_when_it_comes()
    {
        var worker = await ConnectAsync();
        var ran = new TaskCompletionSource<object?>();
        worker.DisconnectRequested += (sender, _) => ran.TrySetResult(sender);
        Assert.False(worker.IsDisconnectRequested);

        _primary.Send(FrameType.Disconnect, []);
        Assert.Same(worker, await ran.Task.WaitAsync(Deadline));
    }

    [Fact]
    public async Task Messages_sent_before_the_first_handler_wait_for_it_in_order()
    {
        var worker = await ConnectAsync();
        _primary.Send(FrameType.Message, "1"u8);
        _primary.Send(FrameType.Message, "2"u8);
        _primary.Send(FrameType.Message, "3"u8);

        var received = new ConcurrentQueue<int>();
        var all = new TaskCompletionSource();
        worker.Message += (_, message) =>
        {
            received.Enqueue(message.GetInt32());
            if (received.Count == 3)
            {
                all.TrySetResult();
            }
        };
        await all.Task.WaitAsync(Deadline);
        Assert.Equal([1, 2, 3], received);
    }

    [Fact]
    public async Task The_worker_learns_when_its_primary_is_gone()
    {
        var worker = await ConnectAsync();
        Assert.Equal(7, worker.Id);
        Assert.Equal(SchedulingMode.RoundRobin, worker.Scheduling);

        _primary.Dispose();
        await Eventually.UntilAsync(() => !_lostReasons.IsEmpty, "the lost channel reported", Deadline);
        Assert.Equal(["the primary is gone"], _lostReasons);
    }

    [Fact]
    public async Task A_primary_of_another_protocol_is_refused_by_the_worker_with_what_to_do()
    {
        var connecting = Task.Run(() => PrimaryConnection.Open(_workerSocket, new HelloMessage(7, "secret", ChannelProtocol.Version, "1.0.0"), 65536, _lostReasons.Enqueue));
        Assert.Equal(ChannelProtocol.Version, IpcChannel.ReadJson(_primary.Receive()!, IpcJson.Default.HelloMessage).Protocol);
        _primary.SendJson(FrameType.Welcome, new WelcomeMessage(7, SchedulingMode.RoundRobin, [], 3_600_000, 0, ChannelProtocol.Version + 1, "9.0.0"), IpcJson.Default.WelcomeMessage);
        var error = await Assert.ThrowsAsync<ProtocolViolationException>(() => connecting.WaitAsync(Deadline));
        Assert.Equal($"worker built with ProcessCluster {ChannelProtocol.Library} (protocol {ChannelProtocol.Version}), primary runs 9.0.0 (protocol {ChannelProtocol.Version + 1}); restart the primary to upgrade", error.Message);
    }

    [Fact]
    public async Task A_paused_worker_answers_Paused_as_its_last_frame_and_sends_what_it_held_only_after_Resume()
    {
        var worker = await ConnectAsync();
        _primary.Send(FrameType.Pause, []);
        Assert.Equal(FrameType.Paused, _primary.Receive()!.Type);

        // The app sends while the primary re-executes itself: held, not sent (a frame now would reach the old program's
        // reader, or tear), and without blocking the sender (a pool thread).
        await Task.Run(() => worker.Send(new Dictionary<string, int> { ["held"] = 1 })).WaitAsync(Deadline);
        _primary.SetReceiveTimeout(TimeSpan.FromMilliseconds(300));
        Assert.Throws<System.ComponentModel.Win32Exception>(() => _primary.Receive());

        _primary.SetReceiveTimeout(TimeSpan.Zero);
        _primary.Send(FrameType.Resume, []);
        var held = _primary.Receive()!;
        Assert.Equal(FrameType.Message, held.Type);
        Assert.Equal("{\"held\":1}", System.Text.Encoding.UTF8.GetString(held.Payload));
        Assert.Empty(_lostReasons);
    }

    /// <summary>The worker's handshake against the test's primary end, which checks the Hello and welcomes worker 7.</summary>
    private async Task<ClusterWorker> ConnectAsync()
    {
        var connecting = Task.Run(() => PrimaryConnection.Open(_workerSocket, new HelloMessage(7, "secret"), 65536, _lostReasons.Enqueue));
        var hello = IpcChannel.ReadJson(_primary.Receive()!, IpcJson.Default.HelloMessage);
        Assert.Equal(new HelloMessage(7, "secret"), hello);
        // Heartbeats an hour apart: the test reads no heartbeat frames.
        _primary.SendJson(FrameType.Welcome, new WelcomeMessage(7, SchedulingMode.RoundRobin, [], 3_600_000, 0, ChannelProtocol.Version, ChannelProtocol.Library), IpcJson.Default.WelcomeMessage);
        return ClusterWorker.Start(await connecting.WaitAsync(Deadline), NullLogger.Instance);
    }
}
