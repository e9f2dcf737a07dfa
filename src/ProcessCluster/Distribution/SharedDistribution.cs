using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Distribution;

/// <summary>
/// Shared scheduling: every worker gets the listening sockets in its welcome and the kernel hands each connection to
/// one of them; the primary holds nothing, so there is nothing to dispatch, count or re-dispatch here. While no worker
/// serves (scaled to zero, or between the last worker and the next), what arrives waits in the sockets' own queues,
/// which the primary keeps open: a watcher thread polls them and says so (<see cref="Waiting"/>), so that the first
/// connection brings a worker, which then accepts it from the queue.
/// </summary>
internal class SharedDistribution(IReadOnlyList<BoundEndpoint> endpoints) : IConnectionDistribution
{
    /// <summary>How long one poll waits; it bounds how long a stop waits for the watcher before closing the sockets.</summary>
    private static readonly TimeSpan PollSlice = TimeSpan.FromMilliseconds(100);

    private readonly object _gate = new();
    private readonly HashSet<int> _serving = [];
    private Thread? _watcher;
    private bool _stopped;

    /// <summary>Nothing waits in the primary: what waits is in the sockets' queues, for workers to take (or for <see cref="Waiting"/>).</summary>
    public int Queued => 0;

    public event Action? Waiting;

    protected IReadOnlyList<BoundEndpoint> Endpoints => endpoints;

    public bool CanShed => false;

    /// <summary>Never raised: the primary sends workers no connections.</summary>
    public event Action<int>? Unresponsive
    {
        add { }
        remove { }
    }

    public void Start()
    {
        _watcher = new Thread(Watch) { IsBackground = true, Name = "cluster-shared-watch" };
        _watcher.Start();
    }

    /// <summary>The workers accept by themselves, through the pause and the exec: the primary holds nothing.</summary>
    public void PauseAccepting()
    {
    }

    public void ResumeAccepting()
    {
    }

    public int HandOutHeld() => 0;

    /// <summary>Every worker accepts on the one listening socket of each endpoint.</summary>
    public virtual int[] ListenFdsFor(int workerId) => endpoints.Select(endpoint => endpoint.Fd).ToArray();

    public virtual void AddWorker(int workerId, IpcChannel channel) => Serving(workerId, true);

    public virtual void Retire(int workerId) => Serving(workerId, false);

    public virtual void RemoveWorker(int workerId) => Serving(workerId, false);

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
        // Out of poll before the sockets close: a closed descriptor's number may be reused at once.
        StopWatching();
        CloseSockets();
        return Task.CompletedTask;
    }

    /// <summary>Closes the primary's copies of the listening sockets, new handshakes dropped first.</summary>
    protected virtual void CloseSockets()
    {
        foreach (var endpoint in endpoints)
        {
            // The filter would stay on systemd's socket and drop the next primary's connections.
            if (endpoint.ShutDownOnStop)
            {
                SocketInterop.DropIncoming(endpoint.Fd);
            }

            endpoint.Dispose();
        }
    }

    /// <summary>The sockets whose queues the watcher polls while no worker serves.</summary>
    protected virtual IReadOnlyList<int> WatchedFds() => endpoints.Select(endpoint => endpoint.Fd).ToList();

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing && !Volatile.Read(ref _stopped))
        {
            StopWatching();
        }
    }

    /// <summary>Wakes the watcher, whether it sleeps or polls, and waits until it has gone.</summary>
    private void StopWatching()
    {
        lock (_gate)
        {
            _stopped = true;
            Monitor.PulseAll(_gate);
        }

        _watcher?.Join();
    }

    private void Serving(int workerId, bool serving)
    {
        lock (_gate)
        {
            _ = serving ? _serving.Add(workerId) : _serving.Remove(workerId);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// Sleeps while some worker serves; while none does, polls the sockets and raises <see cref="Waiting"/> for a
    /// connection in their queue, again every <see cref="IConnectionDistribution.WaitingSpacing"/> until a worker serves.
    /// </summary>
    private void Watch()
    {
        while (true)
        {
            lock (_gate)
            {
                while (!_stopped && _serving.Count > 0)
                {
                    Monitor.Wait(_gate);
                }

                if (_stopped)
                {
                    return;
                }
            }

            // Asked afresh each slice: the sockets watched can change (ReusePort's slots).
            if (PollInterop.AnyReadable(WatchedFds(), PollSlice))
            {
                Waiting?.Invoke();
                lock (_gate)
                {
                    // The connection stays in the queue, and poll says so at once: wait for a worker, or the spacing.
                    Monitor.Wait(_gate, IConnectionDistribution.WaitingSpacing);
                }
            }
        }
    }
}
