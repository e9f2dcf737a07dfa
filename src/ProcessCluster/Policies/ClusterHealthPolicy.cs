using ProcessCluster.Primary;

namespace ProcessCluster.Policies;

/// <summary>What the primary answers an orchestrator: alive (its loop turns), and ready for traffic (with the reason when not).</summary>
internal sealed record ClusterHealth(bool Live, string? NotReadyBecause)
{
    public bool Ready => NotReadyBecause is null;
}

/// <summary>
/// Liveness and readiness of the whole cluster, as a pure function of the loop's last snapshot and the time. Live: the
/// loop has handled a probe tick (posted at least once a second) within <see cref="LoopStallBound"/>, so a loop that is
/// stuck, or a queue that no longer drains, fails it while a busy one does not. Ready: some worker serves, or the
/// cluster scaled to zero and starts one for the next connection (<see cref="ClusterSnapshot.ServesFromZero"/>), and
/// the cluster is not draining.
/// </summary>
internal static class ClusterHealthPolicy
{
    /// <summary>Ten missed ticks: far above a loaded machine's jitter, well below a probe's usual failure window (3 × 10 s).</summary>
    public static readonly TimeSpan LoopStallBound = TimeSpan.FromSeconds(10);

    public static ClusterHealth Judge(ClusterSnapshot snapshot, DateTimeOffset now)
    {
        var live = snapshot.LastTickAt is { } tick && now - tick <= LoopStallBound;
        var notReady = !live ? "the supervisor loop is not turning"
            : snapshot.Stopping ? "the cluster is draining"
            : !snapshot.ServesFromZero && !snapshot.Workers.Any(worker => worker.State == WorkerState.Ready) ? "no worker is ready"
            : null;
        return new ClusterHealth(live, notReady);
    }
}
