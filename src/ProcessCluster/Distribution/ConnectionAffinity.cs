namespace ProcessCluster.Distribution;

/// <summary>Where a connection would rather go: a worker by id (its token said so), or a hash of its client address.</summary>
internal readonly record struct ConnectionAffinity(int? WorkerId, uint? ClientHash)
{
    public static ConnectionAffinity ToWorker(int? workerId) => new(workerId, null);

    public static ConnectionAffinity ToClient(uint? hash) => new(null, hash);
}
