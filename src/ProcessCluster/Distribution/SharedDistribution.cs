using ProcessCluster.Ipc;

namespace ProcessCluster.Distribution;

/// <summary>
/// Shared scheduling: every worker gets the listening sockets in its welcome and the kernel hands each connection to
/// one of them; the primary holds nothing, so there is nothing to dispatch, count or re-dispatch here. While no worker
/// serves, what arrives waits in the sockets' own queues, which the primary keeps open, and brings a worker
/// (<see cref="IdleQueueWatcher"/>).
/// </summary>
internal sealed class SharedDistribution(IReadOnlyList<BoundEndpoint> endpoints) : IConnectionDistribution
{
    private readonly IdleQueueWatcher _watcher = new(endpoints.Select(endpoint => endpoint.Fd));

    public event Action? Waiting
    {
        add => _watcher.Waiting += value;
        remove => _watcher.Waiting -= value;
    }

    public void Start() => _watcher.Start();

    /// <summary>Every worker accepts on the one listening socket of each endpoint.</summary>
    public int[] ListenFdsFor(int workerId) => endpoints.Select(endpoint => endpoint.Fd).ToArray();

    public void AddWorker(int workerId, IpcChannel channel) => _watcher.Serving(workerId, true);

    public void Retire(int workerId) => _watcher.Serving(workerId, false);

    public void RemoveWorker(int workerId) => _watcher.Serving(workerId, false);

    /// <summary>
    /// The workers' copies keep the socket listening until the last of them stops accepting; then it closes and clients
    /// are refused, instead of waiting in a backlog nobody would serve. New handshakes are dropped first: one completing
    /// between the last worker's final accept and its close would be reset.
    /// </summary>
    public Task StopAcceptingAsync()
    {
        _watcher.Stop();
        foreach (var endpoint in endpoints)
        {
            endpoint.CloseOnStop();
        }

        return Task.CompletedTask;
    }

    public void Dispose() => _watcher.Dispose();
}
