using ProcessCluster.Primary;

namespace ProcessCluster.Policies;

/// <summary>The administrative state HAProxy's agent-check reads from the agent's line.</summary>
internal enum AgentState
{
    Ready,
    Drain,
    Maint,
}

/// <summary>One agent line: a state, and with ready a weight in percent of the server's configured weight.</summary>
internal sealed record AgentAnswer(AgentState State, int? WeightPercent)
{
    /// <summary>The line as HAProxy reads it: "ready 75%", "drain", "maint".</summary>
    public override string ToString() => State switch
    {
        AgentState.Ready => $"ready {WeightPercent}%",
        AgentState.Drain => "drain",
        _ => "maint",
    };
}

/// <summary>
/// What the agent needs of the cluster at one moment. <paramref name="ReadyBusy"/> has each serving worker's busy
/// fraction (0 while unmeasured); <paramref name="Processes"/> counts workers that hold a slot (starting, online,
/// ready, spare; not draining or dead); <paramref name="Surging"/> counts successors starting for a replacement;
/// <paramref name="ServesFromZero"/>: scaled to zero, the next connection starts a worker (slower, not refused).
/// </summary>
internal sealed record AgentObservation(
    bool Live,
    bool Stopping,
    IReadOnlyList<double> ReadyBusy,
    int Spares,
    int Processes,
    int Surging,
    int MaxWorkers,
    bool Autoscaling,
    bool ServesFromZero = false);

/// <summary>
/// The HAProxy agent's answer as a pure function of the cluster: <c>drain</c> while the cluster drains for a stop, or
/// while a reload's surge has no room (its successors push the host past MaxWorkers, so the old and new processes
/// share CPU meant for fewer); <c>maint</c> while no worker serves (or the loop no longer turns), unless the cluster
/// scaled to zero and starts a worker on the next connection; otherwise
/// <c>ready</c> with the spare capacity as the weight: each serving worker's idle share, each warm spare, and, when
/// autoscaling, each worker the pool may still add, over the most workers the host can run. A host that has just
/// scaled up or has idle workers gets more; a saturated one at its maximum gets <see cref="MinimumWeight"/>.
/// </summary>
internal static class AgentPolicy
{
    /// <summary>Never 0%: HAProxy would send nothing, and the host would never show that it has room again.</summary>
    public const int MinimumWeight = 1;

    public static AgentObservation Observe(ClusterSnapshot snapshot, DateTimeOffset now)
    {
        var workers = snapshot.Workers;
        return new AgentObservation(
            ClusterHealthPolicy.Judge(snapshot, now).Live,
            snapshot.Stopping,
            workers.Where(worker => worker.State == WorkerState.Ready).Select(worker => worker.BusyFraction ?? 0).ToList(),
            workers.Count(worker => worker.State == WorkerState.Spare),
            workers.Count(worker => worker.State is not (WorkerState.Draining or WorkerState.Dead)),
            snapshot.Surging,
            snapshot.MaxWorkers,
            snapshot.Autoscaling,
            snapshot.ServesFromZero);
    }

    public static AgentAnswer Answer(AgentObservation cluster)
    {
        if (cluster.Stopping || (cluster.Surging > 0 && cluster.Processes > cluster.MaxWorkers))
        {
            return new AgentAnswer(AgentState.Drain, null);
        }

        if (!cluster.Live || (cluster.ReadyBusy.Count == 0 && !cluster.ServesFromZero))
        {
            return new AgentAnswer(AgentState.Maint, null);
        }

        var idle = cluster.ReadyBusy.Sum(busy => 1 - Math.Clamp(busy, 0, 1)) + cluster.Spares;
        var room = cluster.Autoscaling ? Math.Max(0, cluster.MaxWorkers - cluster.Processes) : 0;
        var capacity = Math.Max(cluster.MaxWorkers, cluster.Processes);
        var weight = (int)Math.Round(100 * (idle + room) / capacity, MidpointRounding.AwayFromZero);
        return new AgentAnswer(AgentState.Ready, Math.Clamp(weight, MinimumWeight, 100));
    }
}
