namespace ProcessCluster;

/// <summary>How connections reach workers (Node's cluster.schedulingPolicy).</summary>
public enum SchedulingMode
{
    /// <summary>The primary accepts each connection and hands it to a worker in turn (Node's SCHED_RR).</summary>
    RoundRobin,

    /// <summary>Every worker accepts from the listening socket the primary created (Node's SCHED_NONE).</summary>
    Shared,

    /// <summary>
    /// Every worker accepts on its own listening socket, one of an SO_REUSEPORT group the primary opened, and a BPF
    /// program spreads new connections evenly over the serving workers (Linux).
    /// </summary>
    ReusePort,
}
