using ProcessCluster.Primary;
using ProcessCluster.Worker;

namespace ProcessCluster;

/// <summary>
/// Which role this process plays (Node's cluster.isPrimary / isWorker), read from the environment the primary gives
/// its workers, and the role's object once the cluster is running.
/// </summary>
public static class Cluster
{
    private static volatile ClusterPrimary? _primary;
    private static volatile ClusterWorker? _worker;

    public static bool IsWorker => WorkerEnvironment.Current is not null;

    public static bool IsPrimary => !IsWorker;

    /// <summary>This worker's id (from 1); 0 in the primary.</summary>
    public static int WorkerId => WorkerEnvironment.Current?.WorkerId ?? 0;

    /// <summary>In the primary: the running cluster (workers, fork, events).</summary>
    public static ClusterPrimary? Primary { get => _primary; internal set => _primary = value; }

    /// <summary>In a worker: this worker (id, messages, endpoints).</summary>
    public static ClusterWorker? Worker { get => _worker; internal set => _worker = value; }
}
