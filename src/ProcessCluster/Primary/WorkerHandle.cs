using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary;

/// <summary>
/// One worker as the primary sees it (Node's Worker in the primary): identity, process, channel and state.
/// State is written only by the supervisor loop; the rest of the world reads it.
/// </summary>
public sealed class WorkerHandle
{
    private readonly Supervisor _supervisor;
    private volatile IpcChannel? _channel;
    private IReadOnlyList<string> _addresses = [];

    internal WorkerHandle(int id, string secret, DateTimeOffset forkedAt, Supervisor supervisor)
    {
        Id = id;
        Secret = secret;
        ForkedAt = forkedAt;
        _supervisor = supervisor;
    }

    /// <summary>From 1, never reused: a replacement gets a new id.</summary>
    public int Id { get; }

    /// <summary>The worker's pid, set once it is spawned.</summary>
    public int ProcessId { get; internal set; }

    public WorkerState State { get; internal set; } = WorkerState.Starting;

    public DateTimeOffset ForkedAt { get; }

    /// <summary>When it became ready, or null.</summary>
    public DateTimeOffset? ReadyAt { get; internal set; }

    /// <summary>The addresses the worker's app reported listening on.</summary>
    public IReadOnlyList<string> ListeningAddresses { get => Volatile.Read(ref _addresses); internal set => Volatile.Write(ref _addresses, value); }

    /// <summary>How it ended; null while it runs.</summary>
    public ExitStatus? ExitStatus { get; internal set; }

    /// <summary>True when the cluster stopped it on purpose (Node's exitedAfterDisconnect); such a worker is not restarted.</summary>
    public bool StopRequested => StopReason?.IsPlanned() == true;

    /// <summary>Why it stopped or is stopping; null while it runs unasked.</summary>
    public StopReason? StopReason { get; internal set; }

    /// <summary>When its last heartbeat arrived (or its channel came up).</summary>
    public DateTimeOffset? LastHeartbeatAt { get; internal set; }

    /// <summary>When its last load report (a heartbeat or not) arrived.</summary>
    public DateTimeOffset? LastReportAt { get; private set; }

    /// <summary>Requests it has started, as of its last heartbeat.</summary>
    public long Requests { get; private set; }

    /// <summary>Requests it was serving at its last heartbeat.</summary>
    public int RequestsInFlight { get; private set; }

    /// <summary>The share of the last heartbeat interval it spent with at least one request in flight; null until measured.</summary>
    public double? BusyFraction { get; private set; }

    /// <summary>Connections its server held at its last heartbeat.</summary>
    public int OpenConnections { get; private set; }

    /// <summary>Its resident memory at the last sample, in bytes.</summary>
    public long ResidentBytes { get; internal set; }

    /// <summary>CPU it used since the previous sample, in percent of one core; null until sampled twice.</summary>
    public double? CpuPercent { get; private set; }

    /// <summary>How many workers died unasked before it in its place (PM2's restart count): 0 for a first worker.</summary>
    public int Restarts { get; internal init; }

    /// <summary>Connections the primary has handed to it (RoundRobin scheduling).</summary>
    public long Dispatched => _supervisor.Dispatched(Id);

    /// <summary>Its own request limit (Cluster:MaxRequests with jitter); 0 when unlimited.</summary>
    public long RequestLimit { get; internal init; }

    public bool IsConnected => _channel is not null;

    public bool IsDead => State == WorkerState.Dead;

    internal string Secret { get; }

    private WorkerLoadReport? _lastLoad;
    private (TimeSpan Cpu, DateTimeOffset At)? _lastCpu;

    /// <summary>Takes in a sample of its CPU time from /proc.</summary>
    internal void RecordCpu(TimeSpan cpu, DateTimeOffset now)
    {
        if (_lastCpu is { } previous && now > previous.At)
        {
            CpuPercent = Math.Max(0, 100 * (cpu - previous.Cpu) / (now - previous.At));
        }

        _lastCpu = (cpu, now);
    }

    /// <summary>Takes in a load report: its counters, its busy fraction since the previous one, and — a heartbeat — alive now.</summary>
    internal void RecordLoad(WorkerLoadReport report, bool alive, DateTimeOffset now)
    {
        if (_lastLoad is { } previous && report.ClockMicroseconds > previous.ClockMicroseconds)
        {
            var busy = (double)(report.BusyMicroseconds - previous.BusyMicroseconds) / (report.ClockMicroseconds - previous.ClockMicroseconds);
            BusyFraction = Math.Clamp(busy, 0, 1);
        }

        _lastLoad = report;
        LastHeartbeatAt = alive ? now : LastHeartbeatAt;
        LastReportAt = now;
        Requests = report.Requests;
        RequestsInFlight = report.InFlight;
        OpenConnections = report.OpenConnections;
    }

    /// <summary>When it was last asked to shed connections.</summary>
    internal DateTimeOffset ShedAskedAt { get; set; }

    /// <summary>SIGKILL sent by the supervisor (hung, not ready in time); it only awaits the reaper.</summary>
    internal bool Terminated { get; set; }

    internal IpcChannel? Channel { get => _channel; set => _channel = value; }

    /// <summary>Sends an application message (serialised as JSON) to the worker. Messages arrive in order.</summary>
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
        var channel = _channel ?? throw new InvalidOperationException($"worker {Id} is not connected");
        channel.Send(FrameType.Message, json);
    }

    /// <summary>
    /// Asks the worker to stop gracefully (Node's worker.disconnect()): no new connections, in-flight requests
    /// finish, then it exits and is not replaced.
    /// </summary>
    public void Disconnect() => _supervisor.RequestStop(this);

    /// <summary>Sends a signal to the worker process, like Node's worker.kill(): a plain signal, not a requested stop.</summary>
    public void Kill(int signal = SignalNames.SIGTERM)
    {
        if (ProcessId > 0 && !IsDead)
        {
            ProcessInterop.Signal(ProcessId, signal);
        }
    }

    public override string ToString() => $"worker {Id} (pid {ProcessId})";
}
