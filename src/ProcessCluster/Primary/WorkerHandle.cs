using System.Text.Json;
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

    /// <summary>True when its stop was asked for (Node's exitedAfterDisconnect); such a worker is not replaced.</summary>
    public bool StopRequested { get; internal set; }

    public bool IsConnected => _channel is not null;

    public bool IsDead => State == WorkerState.Dead;

    internal string Secret { get; }

    internal IpcChannel? Channel { get => _channel; set => _channel = value; }

    /// <summary>Sends an application message (serialised as JSON) to the worker. Messages arrive in order.</summary>
    public void Send(object message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var channel = _channel ?? throw new InvalidOperationException($"worker {Id} is not connected");
        channel.Send(FrameType.Message, JsonSerializer.SerializeToUtf8Bytes(message, message.GetType()));
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
