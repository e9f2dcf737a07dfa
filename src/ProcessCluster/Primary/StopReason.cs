namespace ProcessCluster.Primary;

/// <summary>Why a worker stopped: set when the primary decides to stop it, or from how it exited when nobody asked.</summary>
public enum StopReason
{
    /// <summary>Its stop was asked for through the API (worker.Disconnect()).</summary>
    Requested,

    /// <summary>The cluster is stopping.</summary>
    Shutdown,

    /// <summary>Replaced by a rolling reload.</summary>
    Reload,

    /// <summary>It stopped sending heartbeats.</summary>
    Hung,

    /// <summary>It did not start listening within Cluster:ReadyTimeout.</summary>
    NotReadyInTime,

    /// <summary>It was built with a channel protocol this primary does not speak (a newer ProcessCluster).</summary>
    IncompatibleProtocol,

    /// <summary>Replaced because its resident memory passed Cluster:MaxMemoryMb.</summary>
    RecycledForMemory,

    /// <summary>Replaced after serving its request limit (Cluster:MaxRequests, with jitter).</summary>
    RecycledForRequests,

    /// <summary>Replaced because it had run for Cluster:MaxLifetime.</summary>
    RecycledForLifetime,

    /// <summary>Removed because the cluster needed fewer workers.</summary>
    ScaledDown,

    /// <summary>Exited by itself with code 0, unasked.</summary>
    Exited,

    /// <summary>Exited by itself with a non-zero code.</summary>
    Crashed,

    /// <summary>Killed by a signal nobody in the cluster sent.</summary>
    KilledBySignal,

    /// <summary>Failed Cluster:WorkerHealthFailures application health probes in a row; replaced by a successor.</summary>
    Health,
}

internal static class StopReasons
{
    /// <summary>
    /// True when the cluster stopped the worker on purpose and does not restart it (Node's exitedAfterDisconnect):
    /// asked for, shutdown, scaled down, or replaced by a successor (reload, recycling, failed health probes).
    /// </summary>
    public static bool IsPlanned(this StopReason reason) => reason is StopReason.Requested or StopReason.Shutdown or StopReason.ScaledDown
        or StopReason.Reload or StopReason.Health or StopReason.RecycledForMemory or StopReason.RecycledForRequests or StopReason.RecycledForLifetime;

    /// <summary>The reason for an exit nobody asked for, from how it ended.</summary>
    public static StopReason Unasked(ExitStatus status) =>
        status.Signal is not null ? StopReason.KilledBySignal : status.IsClean ? StopReason.Exited : StopReason.Crashed;

    /// <summary>The words used in logs: "recycled: memory", "killed by signal".</summary>
    public static string Describe(this StopReason reason) => reason switch
    {
        StopReason.NotReadyInTime => "not ready in time",
        StopReason.IncompatibleProtocol => "incompatible protocol",
        StopReason.RecycledForMemory => "recycled: memory",
        StopReason.RecycledForRequests => "recycled: requests",
        StopReason.RecycledForLifetime => "recycled: age",
        StopReason.ScaledDown => "scaled down",
        StopReason.KilledBySignal => "killed by signal",
        _ => reason.ToString().ToLowerInvariant(),
    };
}
