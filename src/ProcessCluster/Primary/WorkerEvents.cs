using System.Text.Json;

namespace ProcessCluster.Primary;

/// <summary>Something happened to a worker (Node's 'fork', 'online', 'disconnect').</summary>
public class WorkerEventArgs(WorkerHandle worker) : EventArgs
{
    public WorkerHandle Worker { get; } = worker;
}

/// <summary>The worker's app listens on <see cref="Address"/> (Node's 'listening'); one event per address.</summary>
public sealed class WorkerListeningEventArgs(WorkerHandle worker, string address) : WorkerEventArgs(worker)
{
    public string Address { get; } = address;
}

/// <summary>A message the worker sent (Node's 'message'); <see cref="WorkerEventArgs.Worker"/> is the sender.</summary>
public sealed class WorkerMessageEventArgs(WorkerHandle worker, JsonElement message) : WorkerEventArgs(worker)
{
    public JsonElement Message { get; } = message;
}

/// <summary>The worker process ended (Node's 'exit').</summary>
public sealed class WorkerExitedEventArgs(WorkerHandle worker, ExitStatus status) : WorkerEventArgs(worker)
{
    public ExitStatus Status { get; } = status;

    /// <summary>The exit code, or null when a signal killed it.</summary>
    public int? ExitCode => Status.ExitCode;

    /// <summary>The signal's name ("SIGKILL"), or null when it exited by itself.</summary>
    public string? Signal => Status.Signal is { } signal ? Interop.SignalNames.Name(signal) : null;

    /// <summary>Why it stopped: asked for (reload, recycling, shutdown, ...) or how it died.</summary>
    public StopReason Reason { get; } = worker.StopReason ?? StopReasons.Unasked(status);

    /// <summary>True when the cluster stopped it on purpose (Node's exitedAfterDisconnect).</summary>
    public bool StopRequested { get; } = worker.StopRequested;
}

/// <summary>The cluster cannot run: workers died in a loop and none ever became ready (gunicorn's boot-failure halt).</summary>
public sealed class ClusterFailedEventArgs(string reason) : EventArgs
{
    public string Reason { get; } = reason;
}

/// <summary>The desired worker count changed from <see cref="From"/> to <see cref="To"/>, and why.</summary>
public sealed class ClusterScaledEventArgs(int from, int to, string why) : EventArgs
{
    public int From { get; } = from;

    public int To { get; } = to;

    public string Why { get; } = why;
}

/// <summary>How a rolling reload ended.</summary>
public sealed record ReloadResult(bool Succeeded, int Replaced, string Message);
