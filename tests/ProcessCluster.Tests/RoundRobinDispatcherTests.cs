using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using ProcessCluster.Distribution;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Tests;

/// <summary>
/// The dispatcher over real sockets: a TCP endpoint on 127.0.0.1 and two worker channels (Unix sockets). Worker 1 reads
/// and acknowledges; worker 2 reads nothing, and its channel is full from the start unless a test says otherwise, as when a
/// worker stops reading (a long GC pause, a hang).
/// </summary>
public sealed class RoundRobinDispatcherTests : IDisposable
{
    private const int WorkerReading = 1;
    private const int WorkerNotReading = 2;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly List<BoundEndpoint> _endpoints = ListenSockets.Open(ClusterEndpoint.ParseUrls(["http://127.0.0.1:0"]), 128, reusePort: false, NullLogger.Instance);
    private RoundRobinDispatcher _dispatcher = null!;
    private readonly List<IDisposable> _owned = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly TaskCompletionSource<(int WorkerId, TimeSpan At)> _dropped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private (Socket Primary, Socket Worker) _notReading;
    private int _filled;
    private int _received;
    private long _lastReceivedTicks;

    /// <summary>The dispatcher over both workers, dropping a worker that does not read its channel for <paramref name="unresponsiveAfter"/>.</summary>
    private void Start(TimeSpan unresponsiveAfter, bool fillNotReading = true, int maxInFlightPerWorker = 1000)
    {
        _dispatcher = new RoundRobinDispatcher(_endpoints, 1024, maxInFlightPerWorker, DispatchMode.RoundRobin, TimeSpan.FromMinutes(1), NullLogger.Instance, unresponsiveAfter);
        _dispatcher.Unresponsive += workerId => _dropped.TrySetResult((workerId, _clock.Elapsed));

        var reading = UnixSocketPair.Create();
        var readingChannel = Own(new IpcChannel(reading.Connecting, 4096));
        Own(reading.Accepted);
        new Thread(() => ReadAndAcknowledge(WorkerReading, Own(new IpcChannel(reading.Accepted, 4096, receivesDescriptors: true)))) { IsBackground = true }.Start();

        _notReading = UnixSocketPair.Create();
        Own(_notReading.Worker);
        _filled = fillNotReading ? Fill(_notReading.Primary) : 0;
        var notReadingChannel = Own(new IpcChannel(_notReading.Primary, 4096));
        // As the primary's channel session sets it: the longest a blocking send to this worker may take.
        notReadingChannel.SetSendTimeout(TimeSpan.FromSeconds(1));

        _dispatcher.AddWorker(WorkerReading, readingChannel);
        _dispatcher.AddWorker(WorkerNotReading, notReadingChannel);
        _dispatcher.Start();
    }

    public void Dispose()
    {
        _dispatcher?.StopAccepting();
        _dispatcher?.Dispose();
        _owned.ForEach(owned => owned.Dispose());
        _endpoints.ForEach(endpoint => endpoint.Dispose());
    }

    [Fact]
    public async Task A_worker_that_does_not_read_its_channel_delays_no_other_and_is_dropped_after_the_bound()
    {
        Start(RoundRobinDispatcher.DefaultUnresponsiveAfter);
        const int Connections = 20;
        for (var i = 0; i < Connections; i++)
        {
            Connect();
        }

        await Eventually.UntilAsync(() => Volatile.Read(ref _received) == Connections, $"{Connections} connections at the reading worker", Deadline);
        var (dropped, droppedAt) = await _dropped.Task.WaitAsync(Deadline);
        var lastReceivedAt = TimeSpan.FromTicks(Volatile.Read(ref _lastReceivedTicks));

        // Every connection reached the reading worker while the other was still blocked, not after it was dropped.
        Assert.Equal(WorkerNotReading, dropped);
        Assert.True(lastReceivedAt < droppedAt, $"the last connection arrived at {lastReceivedAt}, after the drop at {droppedAt}");
        Assert.True(droppedAt >= TimeSpan.FromSeconds(0.9), $"dropped at {droppedAt}, before the bound");
        Assert.Equal(Connections, _dispatcher.Dispatched(WorkerReading));
        Assert.Equal(0, _dispatcher.Dispatched(WorkerNotReading));
        Assert.Equal(0, _dispatcher.Queued);

        // Its channel was shut down: past the bytes that filled it, the worker reads end of stream.
        Assert.Equal(_filled, Drain(_notReading.Worker));
    }

    [Fact]
    public async Task A_worker_that_stops_reading_at_its_bound_of_handoffs_is_dropped_though_its_channel_never_fills_and_what_it_held_goes_on()
    {
        // Worker 2 takes two hand-offs, its bound, and reads neither: its channel has room, so no send is ever blocked.
        Start(RoundRobinDispatcher.DefaultUnresponsiveAfter, fillNotReading: false, maxInFlightPerWorker: 2);
        const int Connections = 20;
        for (var i = 0; i < Connections; i++)
        {
            Connect();
        }

        await Eventually.UntilAsync(() => Volatile.Read(ref _received) == Connections - 2, "all but two at the reading worker", Deadline);
        Assert.Equal(2, _dispatcher.Dispatched(WorkerNotReading));
        var (dropped, droppedAt) = await _dropped.Task.WaitAsync(Deadline);
        Assert.Equal(WorkerNotReading, dropped);
        Assert.True(droppedAt >= TimeSpan.FromSeconds(1.4), $"dropped at {droppedAt}, before the bound and half the bound unread");

        // As the loop does once the dropped worker has exited: its two go to the reading worker, none lost.
        _dispatcher.RemoveWorker(WorkerNotReading);
        await Eventually.UntilAsync(() => Volatile.Read(ref _received) == Connections, $"all {Connections} at the reading worker", Deadline);
        Assert.Equal(0, _dispatcher.Queued);
    }

    [Fact]
    public async Task A_blocked_worker_that_reads_again_in_time_gets_its_turn_and_is_not_dropped()
    {
        // A bound no busy test machine can reach: "in time" must not depend on how fast this test runs.
        Start(TimeSpan.FromMinutes(1));
        Connect();
        Connect();
        await Eventually.UntilAsync(() => Volatile.Read(ref _received) == 2, "2 connections at the reading worker", Deadline);

        // Worker 2 was passed over; now it reads what filled its channel, then frames.
        var skipped = new byte[_filled];
        for (var read = 0; read < _filled;)
        {
            read += _notReading.Worker.Receive(skipped.AsSpan(read));
        }

        var resumed = Own(new IpcChannel(_notReading.Worker, 4096, receivesDescriptors: true));
        new Thread(() => ReadAndAcknowledge(WorkerNotReading, resumed)) { IsBackground = true }.Start();
        await Eventually.UntilAsync(
            () =>
            {
                Connect();
                return _dispatcher.Dispatched(WorkerNotReading) > 0;
            },
            "a connection for the worker reading again",
            Deadline);

        Assert.False(_dropped.Task.IsCompleted);
    }

    [Fact]
    public async Task The_reading_check_runs_only_while_a_handoff_is_unacknowledged()
    {
        // A bound no busy test machine reaches: worker 2 keeps what it holds for as long as the test runs.
        Start(TimeSpan.FromMinutes(1), fillNotReading: false);
        Assert.False(_dispatcher.CheckingReading);

        // One each, round-robin: worker 1 acknowledges its own, worker 2 holds its own unread.
        Connect();
        Connect();
        await Eventually.UntilAsync(() => Volatile.Read(ref _received) == 1 && _dispatcher.Dispatched(WorkerNotReading) == 1, "one connection at each worker", Deadline);
        Assert.True(_dispatcher.CheckingReading);

        // As the loop does once worker 2 has exited: what it held goes to worker 1, and nothing is left unacknowledged.
        _dispatcher.RemoveWorker(WorkerNotReading);
        await Eventually.UntilAsync(() => Volatile.Read(ref _received) == 2, "both connections at the reading worker", Deadline);
        await Eventually.UntilAsync(() => !_dispatcher.CheckingReading, "the check stopped with nothing unacknowledged", Deadline);
    }

    private T Own<T>(T owned)
        where T : IDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    private void Connect()
    {
        var client = Own(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        client.Connect(_endpoints[0].Bound);
    }

    /// <summary>A worker: takes each connection (closes it: this test serves nothing) and acknowledges it.</summary>
    private void ReadAndAcknowledge(int workerId, IpcChannel channel)
    {
        try
        {
            while (channel.Receive() is { Type: FrameType.NewConnection } frame)
            {
                Array.ForEach(frame.Fds, SocketInterop.Close);
                var connections = FrameFormat.ReadNewConnections(frame);
                _dispatcher.OnAcks(workerId, [.. connections.Select(connection => (connection.ConnectionId, true))]);
                Volatile.Write(ref _lastReceivedTicks, _clock.Elapsed.Ticks);
                Interlocked.Add(ref _received, connections.Length);
            }
        }
        catch (Exception error) when (error is ObjectDisposedException or System.ComponentModel.Win32Exception)
        {
            // The test is over.
        }
    }

    /// <summary>
    /// Fills a socket's send buffer (made small) until it takes no more: the bytes written. Without waiting, and without
    /// making the socket non-blocking (Socket.Blocking = false would): the primary's channel stays as it is in production.
    /// </summary>
    private static int Fill(Socket socket)
    {
        socket.SendBufferSize = 4096;
        var chunk = new byte[512];
        var filled = 0;
        int sent;
        while ((sent = SocketInterop.TrySend((int)socket.SafeHandle.DangerousGetHandle(), chunk, default)) > 0)
        {
            filled += sent;
        }

        return filled;
    }

    /// <summary>Reads until end of stream: the bytes read.</summary>
    private static int Drain(Socket socket)
    {
        socket.ReceiveTimeout = (int)Deadline.TotalMilliseconds;
        var buffer = new byte[4096];
        var total = 0;
        int read;
        while ((read = socket.Receive(buffer)) > 0)
        {
            total += read;
        }

        return total;
    }
}
