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

    public static bool IsWorker => WorkerEnvironment.Current is not null;

    public static bool IsPrimary => !IsWorker;

    /// <summary>This worker's id (from 1); 0 in the primary.</summary>
    public static int WorkerId => WorkerEnvironment.Current?.WorkerId ?? 0;

    /// <summary>In the primary, from when its host has started the cluster until it has stopped it: workers, fork, events.</summary>
    /// <remarks>The setter remains for the constructor that still sets it; it goes with that line (issue 11).</remarks>
    public static ClusterPrimary? Primary { get => Volatile.Read(ref _primary); internal set => Volatile.Write(ref _primary, value); }

    /// <summary>In a worker, while its host runs it: this worker (id, messages, endpoints).</summary>
    /// <remarks>The setter remains for ClusterWorker.Connect that still sets it; it goes with that line (issue 11).</remarks>
    public static ClusterWorker? Worker { get => Volatile.Read(ref _worker); internal set => Volatile.Write(ref _worker, value); }

    /// <summary>
    /// A host publishes the object it has started, never a constructor: a primary built and not started (a test, a
    /// second instance) is not this process's cluster.
    /// </summary>
    internal static void Started(ClusterPrimary primary) => Primary = primary;

    /// <summary>Withdraws <paramref name="primary"/> once stopped, unless another has been published since.</summary>
    internal static void Stopped(ClusterPrimary primary) => Interlocked.CompareExchange(ref _primary, null, primary);

    internal static void Started(ClusterWorker worker) => Worker = worker;

    internal static void Stopped(ClusterWorker worker) => Interlocked.CompareExchange(ref _worker, null, worker);
}
