using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;
using ProcessCluster.Primary.Channels;

namespace ProcessCluster.Primary;

/// <summary>
/// One worker as the primary sees it (Node's Worker in the primary): identity, process, channel and state. Its state
/// is an immutable <see cref="WorkerView"/> that only the supervisor loop replaces, so any thread may read it.
/// </summary>
public sealed class WorkerHandle
{
    /// <summary>Application messages that may wait at once each way: from the worker for the loop (past it, its channel waits), and for the worker in its outbox.</summary>
    private const int MessagesInQueue = 64;

    private readonly IWorkerOwner _owner;
    private readonly SemaphoreSlim _messageRoom = new(MessagesInQueue);
    private volatile WorkerView _view;
    private volatile IpcChannel? _channel;
    private volatile WorkerHttpMetrics? _httpMetrics;
    private volatile ChannelOutbox? _outbox;
    private PendingLoad? _pendingLoad;
    private long _awaitedProbe;

    internal WorkerHandle(int id, string secret, DateTimeOffset forkedAt, int restarts, long requestLimit, IWorkerOwner owner)
    {
        Id = id;
        Secret = secret;
        Restarts = restarts;
        RequestLimit = requestLimit;
        _owner = owner;
        _view = new WorkerView(0, forkedAt);
    }

    /// <summary>From 1, never reused: a replacement gets a new id.</summary>
    public int Id { get; }

    /// <summary>The worker's pid, set once it is spawned (0 before).</summary>
    public int ProcessId => _view.ProcessId;

    /// <summary>Where it is in its life: starting, online, ready, spare, draining or dead.</summary>
    public WorkerState State => _view.State;

    /// <summary>When the primary started it.</summary>
    public DateTimeOffset ForkedAt => _view.ForkedAt;

    /// <summary>When it became ready, or null.</summary>
    public DateTimeOffset? ReadyAt => _view.ReadyAt;

    /// <summary>The release it runs: the directory it was started in, symlinks resolved when it was forked.</summary>
    public string? Release => _view.Release;

    /// <summary>The addresses the worker's app reported listening on.</summary>
    public IReadOnlyList<string> ListeningAddresses => _view.ListeningAddresses;

    /// <summary>How it ended; null while it runs.</summary>
    public ExitStatus? ExitStatus => _view.ExitStatus;

    /// <summary>True when the cluster stopped it on purpose (Node's exitedAfterDisconnect); such a worker is not restarted.</summary>
    public bool StopRequested => StopReason?.IsPlanned() == true;

    /// <summary>Why it stopped or is stopping; null while it runs unasked.</summary>
    public StopReason? StopReason => _view.StopReason;

    /// <summary>When its last heartbeat arrived (or its channel came up).</summary>
    public DateTimeOffset? LastHeartbeatAt => _view.LastHeartbeatAt;

    /// <summary>When its last load report (a heartbeat or not) arrived.</summary>
    public DateTimeOffset? LastReportAt => _view.LastReportAt;

    /// <summary>Requests it has started, as of its last report.</summary>
    public long Requests => _view.Load?.Requests ?? 0;

    /// <summary>Requests it was serving at its last report.</summary>
    public int RequestsInFlight => _view.Load?.InFlight ?? 0;

    /// <summary>The share of the last report interval it spent with at least one request in flight; null until measured.</summary>
    public double? BusyFraction => _view.BusyFraction;

    /// <summary>Connections its server held at its last report.</summary>
    public int OpenConnections => _view.Load?.OpenConnections ?? 0;

    /// <summary>Its resident memory at the last sample, in bytes.</summary>
    public long ResidentBytes => _view.ResidentBytes;

    /// <summary>CPU it used since the previous sample, in percent of one core; null until sampled twice.</summary>
    public double? CpuPercent => _view.CpuPercent;

    /// <summary>How many workers died unasked before it in its place (PM2's restart count): 0 for a first worker.</summary>
    public int Restarts { get; }

    /// <summary>Connections the primary has handed to it (RoundRobin scheduling).</summary>
    public long Dispatched => Math.Max(_owner.Dispatched(Id), _view.DispatchedWhenRetired);

    /// <summary>Its own request limit (Cluster:MaxRequests with jitter); 0 when unlimited.</summary>
    public long RequestLimit { get; }

    /// <summary>True while its channel to the primary is open (Node's worker.isConnected()).</summary>
    public bool IsConnected => _channel is not null;

    /// <summary>True once its process has exited (Node's worker.isDead()).</summary>
    public bool IsDead => State == WorkerState.Dead;

    internal string Secret { get; }

    /// <summary>Its state now; replaced by the supervisor loop alone.</summary>
    internal WorkerView View { get => _view; set => _view = value; }

    /// <summary>Its app server's HTTP metrics as last reported (null before any); set by its channel's thread.</summary>
    internal WorkerHttpMetrics? HttpMetrics { get => _httpMetrics; set => _httpMetrics = value; }

    /// <summary>Set and cleared by the supervisor loop; read by whoever sends to the worker. Application messages go through an outbox of its own.</summary>
    internal IpcChannel? Channel
    {
        get => _channel;
        set
        {
            _outbox?.Close();
            // As many messages may wait for the worker as wait the other way; a worker that leaves them unread (its
            // channel full past the bound, or the outbox full) is dropped as hung.
            _outbox = value is null ? null : new ChannelOutbox(
                Id, value, FrameType.Message, MessagesInQueue, giveUpWhenFull: true, Distribution.RoundRobinDispatcher.DefaultUnresponsiveAfter, _ => _owner.MessagesUnread(this));
            _channel = value;
        }
    }

    /// <summary>
    /// Keeps only the newest load report until the loop takes it, so a worker reporting faster than the loop reads
    /// costs one slot, not a queue. True when the slot was empty: the caller tells the loop there is one to take.
    /// </summary>
    internal bool OfferLoad(WorkerLoadReport report, bool alive)
    {
        var offered = new PendingLoad(report, alive);
        var previous = Interlocked.Exchange(ref _pendingLoad, offered);
        if (previous is { Alive: true } && !alive)
        {
            // A heartbeat replaced by a plain report still proves the worker alive.
            Interlocked.CompareExchange(ref _pendingLoad, offered with { Alive = true }, offered);
        }

        return previous is null;
    }

    /// <summary>The loop sent health probe <paramref name="id"/>: its one answer may go to the loop.</summary>
    internal void AwaitProbe(long id) => Interlocked.Exchange(ref _awaitedProbe, id);

    /// <summary>A health probe went and its answer has not reached the loop's queue.</summary>
    internal bool ProbeAwaited => Interlocked.Read(ref _awaitedProbe) != 0;

    /// <summary>
    /// True, once, for the answer to the probe awaited: so a worker sending answers nobody asked for costs the loop
    /// nothing, and one probe at most one event.
    /// </summary>
    internal bool TakeProbeAnswer(long id) => id > 0 && Interlocked.CompareExchange(ref _awaitedProbe, 0, id) == id;

    /// <summary>The newest load report not yet taken in, if any.</summary>
    internal (WorkerLoadReport Report, bool Alive)? TakeLoad() =>
        Interlocked.Exchange(ref _pendingLoad, null) is { } pending ? (pending.Report, pending.Alive) : null;

    /// <summary>Waits (on the worker's channel thread) until the loop has room for another of its messages.</summary>
    internal void WaitForMessageRoom() => _messageRoom.Wait();

    /// <summary>The loop has handled one of its messages.</summary>
    internal void MessageHandled() => _messageRoom.Release();

    /// <summary>
    /// Sends an application message (serialised as JSON) to the worker. Messages arrive in order. Never waits for the
    /// worker: while its channel is full, up to 64 messages wait; a worker that leaves them unread is stopped as hung.
    /// </summary>
    [RequiresUnreferencedCode(ApplicationMessages.ReflectionWarning), RequiresDynamicCode(ApplicationMessages.ReflectionWarning)]
    public void Send(object message)
    {
        ArgumentNullException.ThrowIfNull(message);
        SendJson(JsonSerializer.SerializeToUtf8Bytes(message, message.GetType()));
    }

    /// <summary>Sends an application message serialised by source-generated JSON (fit for trimming and native AOT).</summary>
    public void Send<T>(T message, JsonTypeInfo<T> typeInfo) => SendJson(JsonSerializer.SerializeToUtf8Bytes(message, typeInfo));

    private void SendJson(byte[] json)
    {
        try
        {
            if (_outbox?.Post(json) != PostOutcome.Sent)
            {
                throw new InvalidOperationException($"worker {Id} is not connected");
            }
        }
        catch (ObjectDisposedException)
        {
            throw new InvalidOperationException($"worker {Id} is not connected");
        }
    }

    /// <summary>
    /// Asks the worker to stop gracefully (Node's worker.disconnect()): no new connections, in-flight requests
    /// finish, then it exits and is not replaced.
    /// </summary>
    public void Disconnect() => _owner.RequestStop(this);

    /// <summary>Sends a signal to the worker process, like Node's worker.kill(): a plain signal, not a requested stop.</summary>
    public void Kill(int signal = SignalNames.SIGTERM)
    {
        if (ProcessId > 0 && !IsDead)
        {
            _owner.Signal(ProcessId, signal);
        }
    }

    /// <summary>"worker 3 (pid 4250)", as the log names it.</summary>
    public override string ToString() => $"worker {Id} (pid {ProcessId})";

    private sealed record PendingLoad(WorkerLoadReport Report, bool Alive);
}

/// <summary>What a <see cref="WorkerHandle"/> asks of the primary that owns it.</summary>
internal interface IWorkerOwner
{
    void RequestStop(WorkerHandle worker);

    void Signal(int pid, int signal);

    long Dispatched(int workerId);

    /// <summary>The worker left the application messages sent to it unread past the bound; its channel was shut down.</summary>
    void MessagesUnread(WorkerHandle worker);
}
