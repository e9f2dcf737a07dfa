using ProcessCluster.Ipc;

namespace ProcessCluster.Distribution;

/// <summary>
/// How connections reach workers, one strategy per scheduling mode behind one small face (Node's RoundRobinHandle
/// and SharedHandle): the supervisor says who is ready and who leaves; the strategy does the rest. The defaults are
/// those of a strategy where workers accept by themselves (Shared, ReusePort): the primary holds, sends and counts no
/// connection, so there is nothing to pause, shed, acknowledge or report.
/// </summary>
internal interface IConnectionDistribution : IDisposable
{
    /// <summary>Connections accepted by the primary and not yet handed to a worker.</summary>
    int Queued => 0;

    /// <summary>Whether a worker can be asked to shed keep-alive connections to others (the primary chooses the next worker).</summary>
    bool CanShed => false;

    /// <summary>A worker stopped reading its channel and was dropped from dispatch (raised once per worker).</summary>
    event Action<int>? Unresponsive
    {
        add { }
        remove { }
    }

    /// <summary>
    /// Connections wait and no worker can take one (none serves: scaled to zero, or every one is full). Raised from the
    /// strategy's own thread, at most every <see cref="WaitingSpacing"/> while they wait.
    /// </summary>
    event Action? Waiting;

    /// <summary>The least time between two <see cref="Waiting"/> events.</summary>
    static readonly TimeSpan WaitingSpacing = TimeSpan.FromMilliseconds(100);

    void Start();

    /// <summary>
    /// Stops taking connections for an in-place upgrade, the listening sockets left open: new ones wait in the kernel's
    /// queue. Those already taken still go out (<see cref="Queued"/> falls to 0). Blocks briefly (an accept wake-up).
    /// </summary>
    void PauseAccepting()
    {
    }

    /// <summary>
    /// Hands out what is held to any worker that can take one now, and returns how many are still held. Dispatch is
    /// otherwise driven by events (an accept, an ack); while accepting is paused a connection held back by a time-bound
    /// choice (a worker shedding) would wait for the next one.
    /// </summary>
    int HandOutHeld() => 0;

    /// <summary>Takes connections again after <see cref="PauseAccepting"/> (the upgrade was called off).</summary>
    void ResumeAccepting()
    {
    }

    /// <summary>
    /// The listening sockets a worker accepts on, one per endpoint in order, sent in its welcome: none when the primary
    /// hands it connections (RoundRobin).
    /// </summary>
    int[] ListenFdsFor(int workerId);

    /// <summary>The worker is ready: it takes connections from now on.</summary>
    void AddWorker(int workerId, IpcChannel channel);

    /// <summary>The worker takes no new connections; what it has not acknowledged stays its own until it answers or exits.</summary>
    void Retire(int workerId);

    /// <summary>The worker has exited: whatever it did not acknowledge goes to other workers.</summary>
    void RemoveWorker(int workerId);

    void Shedding(int workerId, int connections, TimeSpan within)
    {
    }

    void OnLoadReport(int workerId, int requestsInFlight)
    {
    }

    void OnAcks(int workerId, IReadOnlyList<(long ConnectionId, bool Accepted)> acks)
    {
    }

    /// <summary>Connections handed to the worker so far (0 when the primary hands none, or once it left).</summary>
    long Dispatched(int workerId) => 0;

    /// <summary>
    /// Stops taking new connections; completes once every connection taken before has gone to a worker — the moment it
    /// is safe to tell workers to drain. Never completes while no worker can take the connections held.
    /// </summary>
    Task StopAcceptingAsync();
}
