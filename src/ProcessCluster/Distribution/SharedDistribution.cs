using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Distribution;

/// <summary>
/// Shared scheduling: every worker gets the listening sockets in its welcome and the kernel hands each connection to
/// one of them; the primary holds nothing, so there is nothing to dispatch, count or re-dispatch here.
/// </summary>
internal sealed class SharedDistribution(IReadOnlyList<BoundEndpoint> endpoints) : IConnectionDistribution
{
    public int Queued => 0;

    public bool CanShed => false;

    /// <summary>Never raised: the primary sends workers no connections.</summary>
    public event Action<int>? Unresponsive
    {
        add { }
        remove { }
    }

    public void Start()
    {
    }

    /// <summary>The workers accept by themselves, through the pause and the exec: the primary holds nothing.</summary>
    public void PauseAccepting()
    {
    }

    public void ResumeAccepting()
    {
    }

    public int HandOutHeld() => 0;

    public void AddWorker(int workerId, IpcChannel channel)
    {
    }

    public void Retire(int workerId)
    {
    }

    public void RemoveWorker(int workerId)
    {
    }

    public void Shedding(int workerId, int connections, TimeSpan within)
    {
    }

    public void OnLoadReport(int workerId, int requestsInFlight)
    {
    }

    public void OnAcks(int workerId, IReadOnlyList<(long ConnectionId, bool Accepted)> acks)
    {
    }

    public long Dispatched(int workerId) => 0;

    /// <summary>
    /// The workers' copies keep the socket listening until the last of them stops accepting; then it closes and clients
    /// are refused, instead of waiting in a backlog nobody would serve. New handshakes are dropped first: one completing
    /// between the last worker's final accept and its close would be reset.
    /// </summary>
    public Task StopAcceptingAsync()
    {
        foreach (var endpoint in endpoints)
        {
            // The filter would stay on systemd's socket and drop the next primary's connections.
            if (!endpoint.Adopted)
            {
                SocketInterop.DropIncoming(endpoint.Fd);
            }

            endpoint.Dispose();
        }

        return Task.CompletedTask;
    }

    public void Dispose()
    {
    }
}
