namespace ProcessCluster;

/// <summary>How the primary picks the worker for each connection it accepts (RoundRobin scheduling only).</summary>
public enum DispatchMode
{
    /// <summary>Each ready worker in turn (Node's default).</summary>
    RoundRobin,

    /// <summary>
    /// The worker with the fewest requests in flight (as last reported, plus connections handed over since), skipping
    /// one whose reports are late: a stuck worker stops getting connections instead of piling them up.
    /// </summary>
    LeastBusy,
}
