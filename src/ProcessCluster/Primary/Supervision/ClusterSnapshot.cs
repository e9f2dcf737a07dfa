namespace ProcessCluster.Primary;

/// <summary>
/// The cluster as the supervisor loop left it after its last event, immutable: what status, metrics, the dashboard
/// and the public API read from any thread. Each worker in it carries its own immutable view. Surging counts the
/// successors starting for a replacement (reload, recycling), each beside the worker it replaces.
/// </summary>
/// <param name="ServesFromZero">
/// The cluster may scale to zero (Cluster:MinWorkers=0), its app has served and restarts have not given up: with no
/// worker ready, the next connection is held and starts one, so it is slower, not refused.
/// </param>
internal sealed record ClusterSnapshot(
    IReadOnlyList<WorkerHandle> Workers,
    int DesiredWorkers,
    int MinWorkers,
    int MaxWorkers,
    bool Autoscaling,
    long Restarts,
    DateTimeOffset? LastTickAt,
    bool Stopping,
    int Surging,
    bool ServesFromZero = false)
{
    /// <summary>Before the loop runs: no tick yet, so not live.</summary>
    public static ClusterSnapshot Empty { get; } = new([], 0, 0, 0, false, 0, null, false, 0);
}
