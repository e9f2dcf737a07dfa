using System.Text.Json;

namespace ProcessCluster.Primary;

/// <summary>Something happened to a worker (Node's 'fork', 'online', 'disconnect').</summary>
public class WorkerEventArgs(WorkerHandle worker) : EventArgs
{
    /// <summary>The worker it happened to.</summary>
    public WorkerHandle Worker { get; } = worker;
}

/// <summary>The worker's app listens on <see cref="Address"/> (Node's 'listening'); one event per address.</summary>
public sealed class WorkerListeningEventArgs(WorkerHandle worker, string address) : WorkerEventArgs(worker)
{
    /// <summary>The address, as the worker's server reports it ("http://127.0.0.1:3000").</summary>
    public string Address { get; } = address;
}

/// <summary>A message the worker sent (Node's 'message'); <see cref="WorkerEventArgs.Worker"/> is the sender.</summary>
public sealed class WorkerMessageEventArgs(WorkerHandle worker, JsonElement message) : WorkerEventArgs(worker)
{
    /// <summary>The message, as the JSON the worker sent.</summary>
    public JsonElement Message { get; } = message;
}

/// <summary>The worker process ended (Node's 'exit').</summary>
public sealed class WorkerExitedEventArgs(WorkerHandle worker, ExitStatus status) : WorkerEventArgs(worker)
{
    /// <summary>Its exit code or the signal that killed it.</summary>
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
    /// <summary>Why the cluster cannot run, for the log and the operator.</summary>
    public string Reason { get; } = reason;
}

/// <summary>The desired worker count changed from <see cref="From"/> to <see cref="To"/>, and why.</summary>
public sealed class ClusterScaledEventArgs(int from, int to, string why) : EventArgs
{
    /// <summary>The desired count before.</summary>
    public int From { get; } = from;

    /// <summary>The desired count now.</summary>
    public int To { get; } = to;

    /// <summary>The policy's reason, with its inputs ("busy 1.00 across 1 workers (target 0.60)").</summary>
    public string Why { get; } = why;
}

/// <summary>How a rolling reload ended.</summary>
public sealed record ReloadResult(bool Succeeded, int Replaced, string Message);
