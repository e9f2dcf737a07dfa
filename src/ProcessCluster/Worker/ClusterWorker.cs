using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Worker;

/// <summary>
/// This process as a worker of a cluster (Node's cluster.worker): its id, its endpoints, messages to and from
/// the primary. Connecting arms the parent-death signal, so the worker dies with its primary even when the primary
/// is SIGKILLed; end of stream on the channel is the second sign the primary is gone, and the worker then exits.
/// </summary>
public sealed class ClusterWorker
{
    private readonly IpcChannel _channel;
    private readonly ILogger _logger;
    private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>(new UnboundedChannelOptions { SingleReader = true });
    private readonly HashSet<int> _claimed = [];
    private readonly List<(long ConnectionId, bool Accepted)> _pendingAcks = [];
    private bool _ackFlushScheduled;
    private EventHandler<JsonElement>? _message;
    private int _deliveryStarted;
    private int _disconnectRequested;
    private long _requests;
    private long _busyTicks;
    private long _busySince;
    private int _openConnections;
    private int _connectionsToShed;
    private Timer? _heartbeats;
    private Timer? _loadReports;
    private int _requestsInFlight;

    private ClusterWorker(IpcChannel channel, WelcomeMessage welcome, int[] sharedFds, ILogger logger)
    {
        _channel = channel;
        _logger = logger;
        Id = welcome.WorkerId;
        Scheduling = welcome.Scheduling;
        Endpoints = welcome.Endpoints.Select((endpoint, index) => new WorkerEndpoint(
            index,
            new IPEndPoint(IPAddress.Parse(endpoint.Address), endpoint.Port),
            new IPEndPoint(IPAddress.Parse(endpoint.BoundAddress), endpoint.BoundPort),
            Scheduling == SchedulingMode.RoundRobin ? new ConnectionInbox(Acknowledge) : null,
            Scheduling == SchedulingMode.Shared ? sharedFds[index] : null)).ToList();
        HeartbeatInterval = TimeSpan.FromMilliseconds(welcome.HeartbeatIntervalMs);
        LoadReportInterval = welcome.LoadReportIntervalMs > 0 ? TimeSpan.FromMilliseconds(welcome.LoadReportIntervalMs) : null;
    }

    /// <summary>The worker's id, from 1, unique for the primary's lifetime.</summary>
    public int Id { get; }

    public SchedulingMode Scheduling { get; }

    public IReadOnlyList<WorkerEndpoint> Endpoints { get; }

    /// <summary>How often this worker tells the primary it is alive.</summary>
    public TimeSpan HeartbeatInterval { get; }

    /// <summary>How often this worker reports its load apart from heartbeats, when the primary asks for it.</summary>
    public TimeSpan? LoadReportInterval { get; }

    /// <summary>Requests started in this worker so far; the primary recycles on it (Cluster:MaxRequests).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>
    /// A message from the primary. Handlers run one at a time, in the order the messages were sent. Messages that
    /// arrive before the first handler is attached wait for it, so none is lost to start-up order.
    /// </summary>
    public event EventHandler<JsonElement>? Message
    {
        add
        {
            _message += value;
            if (Interlocked.Exchange(ref _deliveryStarted, 1) == 0)
            {
                _ = DeliverMessagesAsync();
            }
        }

        remove => _message -= value;
    }

    /// <summary>The primary asks this worker to stop: finish in-flight work and exit.</summary>
    public event EventHandler? DisconnectRequested;

    /// <summary>
    /// Connects to the primary named in <paramref name="environment"/>, authenticates and receives the endpoints.
    /// Exits the process at once if the primary is already gone.
    /// </summary>
    public static ClusterWorker Connect(WorkerEnvironment environment, int maxMessageBytes, ILogger logger)
    {
        if (!ProcessInterop.DieWithParent(environment.PrimaryPid))
        {
            logger.LogCritical("Primary {Pid} is gone before worker {Id} started; exiting", environment.PrimaryPid, environment.WorkerId);
            ProcessInterop.ExitImmediately(1);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint("\0" + environment.ChannelName));
        var channel = new IpcChannel(socket, maxMessageBytes);
        channel.SendJson(FrameType.Hello, new HelloMessage(environment.WorkerId, environment.Secret), IpcJson.Default.HelloMessage);
        var frame = channel.Receive() ?? throw new InvalidOperationException($"primary {environment.PrimaryPid} refused worker {environment.WorkerId}");
        if (frame.Type != FrameType.Welcome)
        {
            throw new ProtocolViolationException($"expected Welcome from the primary, got {frame.Type}");
        }

        var welcome = IpcChannel.ReadJson(frame, IpcJson.Default.WelcomeMessage);
        var expectedFds = welcome.Scheduling == SchedulingMode.Shared ? welcome.Endpoints.Count : 0;
        if (frame.Fds.Length != expectedFds)
        {
            throw new ProtocolViolationException($"Welcome carried {frame.Fds.Length} descriptors for {welcome.Endpoints.Count} endpoints");
        }

        var worker = new ClusterWorker(channel, welcome, frame.Fds, logger);
        new Thread(worker.ReadLoop) { IsBackground = true, Name = "cluster-worker-channel" }.Start();
        worker.StartHeartbeats();
        Cluster.Worker = worker;
        return worker;
    }

    /// <summary>Sends an application message (JSON) to the primary.</summary>
    [RequiresUnreferencedCode(ApplicationMessages.ReflectionWarning), RequiresDynamicCode(ApplicationMessages.ReflectionWarning)]
    public void Send(object message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _channel.Send(FrameType.Message, JsonSerializer.SerializeToUtf8Bytes(message, message.GetType()));
    }

    /// <summary>Sends an application message serialised by source-generated JSON (fit for trimming and native AOT).</summary>
    public void Send<T>(T message, JsonTypeInfo<T> typeInfo) => _channel.Send(FrameType.Message, JsonSerializer.SerializeToUtf8Bytes(message, typeInfo));

    /// <summary>Counts a request as started; the server integration calls it (and <see cref="RequestFinished"/>) for every request.</summary>
    public void RequestStarted()
    {
        Interlocked.Increment(ref _requests);
        if (Interlocked.Increment(ref _requestsInFlight) == 1)
        {
            Volatile.Write(ref _busySince, Stopwatch.GetTimestamp());
        }
    }

    public void RequestFinished()
    {
        if (Interlocked.Decrement(ref _requestsInFlight) == 0)
        {
            Interlocked.Add(ref _busyTicks, Stopwatch.GetTimestamp() - Volatile.Read(ref _busySince));
        }
    }

    /// <summary>Counts a connection the server opened, until <see cref="ConnectionClosed"/>; reported to the primary for rebalancing.</summary>
    public void ConnectionOpened() => Interlocked.Increment(ref _openConnections);

    public void ConnectionClosed() => Interlocked.Decrement(ref _openConnections);

    public int OpenConnections => Volatile.Read(ref _openConnections);

    /// <summary>
    /// True when the primary asked this worker to shed a connection (it holds more than its share, for instance after
    /// new workers started): the server should close this request's connection after the response (HTTP/1
    /// <c>Connection: close</c>), so its client reconnects, through the primary, to a less loaded worker.
    /// </summary>
    public bool TakeConnectionToShed()
    {
        var remaining = Volatile.Read(ref _connectionsToShed);
        while (remaining > 0)
        {
            var seen = Interlocked.CompareExchange(ref _connectionsToShed, remaining - 1, remaining);
            if (seen == remaining)
            {
                return true;
            }

            remaining = seen;
        }

        return false;
    }

    /// <summary>Requests, in flight, and busy time (at least one request in flight) so far, for the heartbeat.</summary>
    private WorkerLoadReport LoadReport()
    {
        var now = Stopwatch.GetTimestamp();
        var inFlight = Volatile.Read(ref _requestsInFlight);
        var busy = Interlocked.Read(ref _busyTicks) + (inFlight > 0 ? now - Volatile.Read(ref _busySince) : 0);
        return new WorkerLoadReport(Requests, inFlight, ToMicroseconds(busy), ToMicroseconds(now), OpenConnections);
    }

    private static long ToMicroseconds(long ticks) => (long)(ticks * (1_000_000.0 / Stopwatch.Frequency));

    /// <summary>Tells the primary the app listens on these addresses: the worker is ready for connections.</summary>
    public void ReportListening(IReadOnlyList<string> addresses) =>
        _channel.SendJson(FrameType.Listening, new ListeningMessage(addresses), IpcJson.Default.ListeningMessage);

    /// <summary>Tells the primary the app is shutting down: it gets no more connections.</summary>
    public void ReportStopping()
    {
        try
        {
            _channel.Send(FrameType.Stopping, []);
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            // Nobody left to tell.
        }
    }

    /// <summary>Claims the endpoint a server's bind request stands for (see <see cref="WorkerEndpoint.Match"/>).</summary>
    public WorkerEndpoint? ClaimEndpoint(IPEndPoint requested)
    {
        lock (_claimed)
        {
            var endpoint = WorkerEndpoint.Match(Endpoints, _claimed, requested);
            if (endpoint is not null)
            {
                _claimed.Add(endpoint.Index);
            }

            return endpoint;
        }
    }

    /// <summary>Whether <paramref name="requested"/> would be claimed, without claiming it.</summary>
    public bool CanClaimEndpoint(IPEndPoint requested)
    {
        lock (_claimed)
        {
            return WorkerEndpoint.Match(Endpoints, _claimed, requested) is not null;
        }
    }

    /// <summary>
    /// Queues an acknowledgement; they leave in batches, one frame for all that gathered while a flush was pending,
    /// so a busy worker pays one send (and the primary one wake-up) for many connections.
    /// </summary>
    private void Acknowledge(long connectionId, bool accepted)
    {
        lock (_pendingAcks)
        {
            _pendingAcks.Add((connectionId, accepted));
            if (_ackFlushScheduled)
            {
                return;
            }

            _ackFlushScheduled = true;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static worker => worker.FlushAcks(), this, preferLocal: false);
    }

    private void FlushAcks()
    {
        byte[] payload;
        lock (_pendingAcks)
        {
            payload = FrameFormat.WriteAcks(_pendingAcks);
            _pendingAcks.Clear();
            _ackFlushScheduled = false;
        }

        try
        {
            _channel.Send(FrameType.Ack, payload);
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            // The channel is gone and so, very soon, is this process; the reader handles that.
        }
    }

    /// <summary>
    /// The timer only queues the heartbeat; the thread pool's global queue sends it. A pool that is starved or blocked
    /// by the app never gets to it, so the primary sees the worker as hung — which is what such a worker is. (Timer
    /// callbacks themselves jump ahead of queued work, so sending from the callback would hide the hang.)
    /// </summary>
    private void StartHeartbeats()
    {
        var heartbeat = new byte[FrameFormat.HeartbeatSize];
        _heartbeats = new Timer(
            static state => ThreadPool.UnsafeQueueUserWorkItem(static sender => sender(), (Action)state!, preferLocal: false),
            (Action)(() => SendReport(FrameType.Heartbeat, heartbeat)),
            HeartbeatInterval,
            HeartbeatInterval);

        // Load reports are sent from the timer callback itself: they must stay timely when the pool is saturated.
        if (LoadReportInterval is { } interval)
        {
            var load = new byte[FrameFormat.HeartbeatSize];
            _loadReports = new Timer(_ => SendReport(FrameType.LoadReport, load), null, interval, interval);
        }
    }

    private void SendReport(FrameType type, byte[] payload)
    {
        lock (payload)
        {
            FrameFormat.WriteHeartbeat(payload, LoadReport());
            try
            {
                _channel.Send(type, payload);
            }
            catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
            {
                // The channel is gone and so, very soon, is this process; the reader handles that.
            }
        }
    }

    private void ReadLoop()
    {
        try
        {
            while (_channel.Receive() is { } frame)
            {
                Handle(frame);
            }

            ExitForLostChannel("the primary is gone");
        }
        catch (Exception error) when (error is ProtocolViolationException or Win32Exception)
        {
            ExitForLostChannel(error.Message);
        }
    }

    /// <summary>
    /// Without its primary a worker gets no connections (RoundRobin) or would serve unsupervised (Shared): it ends now.
    /// The line goes straight to stderr, since the logger's queue would not be flushed by an immediate exit.
    /// </summary>
    private void ExitForLostChannel(string reason)
    {
        Console.Error.WriteLine($"Worker {Id} (pid {Environment.ProcessId}) lost its channel ({reason}); exiting");
        ProcessInterop.ExitImmediately(1);
    }

    private void Handle(Frame frame)
    {
        switch (frame.Type)
        {
            case FrameType.NewConnection:
                var (connectionId, index) = FrameFormat.ReadNewConnection(frame);
                var inbox = index < Endpoints.Count ? Endpoints[index].Inbox : null;
                if (inbox is null)
                {
                    SocketInterop.Close(frame.Fds[0]);
                    Acknowledge(connectionId, accepted: false);
                }
                else
                {
                    inbox.Offer(connectionId, frame.Fds[0]);
                }

                break;
            case FrameType.Message:
                using (var document = ParseMessage(frame))
                {
                    _messages.Writer.TryWrite(document.RootElement.Clone());
                }

                break;
            case FrameType.Shed:
                Volatile.Write(ref _connectionsToShed, FrameFormat.ReadShed(frame));
                break;
            case FrameType.Disconnect:
                if (Interlocked.Exchange(ref _disconnectRequested, 1) == 0)
                {
                    _ = Task.Run(() => DisconnectRequested?.Invoke(this, EventArgs.Empty));
                }

                break;
            default:
                Array.ForEach(frame.Fds, SocketInterop.Close);
                throw new ProtocolViolationException($"the primary may not send {frame.Type} frames here");
        }
    }

    private static JsonDocument ParseMessage(Frame frame)
    {
        try
        {
            return JsonDocument.Parse(frame.Payload);
        }
        catch (JsonException error)
        {
            throw new ProtocolViolationException($"malformed message: {error.Message}");
        }
    }

    private async Task DeliverMessagesAsync()
    {
        await foreach (var message in _messages.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                _message?.Invoke(this, message);
            }
            catch (Exception error)
            {
                _logger.LogError(error, "A cluster message handler failed in worker {Id}", Id);
            }
        }
    }
}
