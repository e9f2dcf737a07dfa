using ProcessCluster.Primary;
using ProcessCluster.Worker;

namespace ProcessCluster;

/// <summary>
/// Which role this process plays (Node's cluster.isPrimary / isWorker), read from the environment the primary gives
/// its workers, and the role's object while its host runs it. In an app the container has the same objects
/// (<see cref="ClusterPrimary"/>, <see cref="ClusterWorker"/>); these are for code that has no container at hand.
/// </summary>
public static class Cluster
{
    private static ClusterPrimary? _primary;
    private static ClusterWorker? _worker;

    /// <summary>True in a worker process: the primary started it and gave it a worker id.</summary>
    public static bool IsWorker => WorkerEnvironment.Current is not null;

    /// <summary>True in the primary, and in a process that is not part of a cluster at all (it becomes the primary).</summary>
    public static bool IsPrimary => !IsWorker;

    /// <summary>This worker's id (from 1); 0 in the primary.</summary>
    public static int WorkerId => WorkerEnvironment.Current?.WorkerId ?? 0;

    /// <summary>In the primary, from when its host has started the cluster until it has stopped it: workers, fork, events.</summary>
    public static ClusterPrimary? Primary => Volatile.Read(ref _primary);

    /// <summary>In a worker, while its host runs it: this worker (id, messages, endpoints).</summary>
    public static ClusterWorker? Worker => Volatile.Read(ref _worker);

    /// <summary>
    /// A host publishes the object it has started, never a constructor: a primary built and not started (a test, a
    /// second instance) is not this process's cluster.
    /// </summary>
    internal static void Started(ClusterPrimary primary) => Volatile.Write(ref _primary, primary);

    /// <summary>Withdraws <paramref name="primary"/> once stopped, unless another has been published since.</summary>
    internal static void Stopped(ClusterPrimary primary) => Interlocked.CompareExchange(ref _primary, null, primary);

    internal static void Started(ClusterWorker worker) => Volatile.Write(ref _worker, worker);

    internal static void Stopped(ClusterWorker worker) => Interlocked.CompareExchange(ref _worker, null, worker);
}
