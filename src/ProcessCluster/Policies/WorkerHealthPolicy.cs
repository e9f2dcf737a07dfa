using ProcessCluster.Primary;

namespace ProcessCluster.Policies;

/// <summary>What the primary knows of one worker at a moment: its state, its times, its counters.</summary>
internal readonly record struct WorkerObservation(
    WorkerState State,
    DateTimeOffset ForkedAt,
    DateTimeOffset? ReadyAt,
    DateTimeOffset? LastHeartbeatAt,
    long Requests,
    long RequestLimit,
    long ResidentBytes);

/// <summary>What should happen to a worker: nothing, kill it (hung, or never ready), or replace it gracefully (recycle).</summary>
internal enum HealthVerdict
{
    Healthy,
    NotReadyInTime,
    Hung,
    RecycleForMemory,
    RecycleForRequests,
    RecycleForLifetime,
}

/// <summary>
/// Liveness and recycling, as a pure function of one observation and the time. Liveness is the heartbeat only (a slow
/// request is not a hung worker); recycling waits until a worker has been ready <see cref="ClusterOptions.RecycleMinLifetime"/>,
/// so a worker that starts big, or a limit set too low, cannot make workers recycle in a loop.
/// </summary>
internal sealed class WorkerHealthPolicy(ClusterOptions options)
{
    public HealthVerdict Decide(WorkerObservation worker, DateTimeOffset now)
    {
        if (worker.State is WorkerState.Starting or WorkerState.Online)
        {
            return now - worker.ForkedAt > options.ReadyTimeout ? HealthVerdict.NotReadyInTime : HealthVerdict.Healthy;
        }

        if (worker.State == WorkerState.Dead)
        {
            return HealthVerdict.Healthy;
        }

        if (worker.LastHeartbeatAt is { } heartbeat && now - heartbeat > options.HeartbeatTimeout)
        {
            return HealthVerdict.Hung;
        }

        if (worker.State != WorkerState.Ready || worker.ReadyAt is not { } readyAt || now - readyAt < options.RecycleMinLifetime)
        {
            return HealthVerdict.Healthy;
        }

        if (options.MaxMemoryMb > 0 && worker.ResidentBytes > options.MaxMemoryMb * 1024L * 1024L)
        {
            return HealthVerdict.RecycleForMemory;
        }

        if (worker.RequestLimit > 0 && worker.Requests >= worker.RequestLimit)
        {
            return HealthVerdict.RecycleForRequests;
        }

        return options.MaxLifetime > TimeSpan.Zero && now - worker.ForkedAt >= options.MaxLifetime
            ? HealthVerdict.RecycleForLifetime
            : HealthVerdict.Healthy;
    }

    /// <summary>One worker's request limit: MaxRequests plus a random share of it up to the jitter (gunicorn's max_requests_jitter).</summary>
    public static long RequestLimit(ClusterOptions options, double random) =>
        options.MaxRequests == 0 ? 0 : options.MaxRequests + (long)(options.MaxRequests * options.MaxRequestsJitter * random);
}
