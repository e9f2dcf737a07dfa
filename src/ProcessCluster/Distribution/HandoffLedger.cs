namespace ProcessCluster.Distribution;

/// <summary>An accepted connection the primary holds: its id (the worker acknowledges by it), descriptor, endpoint and where it would rather go.</summary>
internal readonly record struct Handoff(long Id, int Fd, int Endpoint, ConnectionAffinity Affinity = default);

/// <summary>What one worker holds unacknowledged: how many, and since when the oldest (ms, the caller's clock).</summary>
internal readonly record struct HandoffLoad(int InFlight, long OldestSentAt);

/// <summary>
/// Where every accepted connection is, as bookkeeping only (no sockets, no threads, no lock: the dispatcher holds one
/// around it). A connection is pending (held by the primary, not yet sent) or in flight to one worker (sent, not yet
/// acknowledged); the primary keeps its descriptor until the worker accepts it, so one refused or never taken — the
/// worker died — goes back to pending, never to the floor. Times are the caller's, in milliseconds.
/// </summary>
internal sealed class HandoffLedger
{
    private readonly LinkedList<Handoff> _pending = new();
    private readonly Dictionary<int, WorkerHandoffs> _workers = [];
    // Ids start at a random point: after an in-place upgrade, a worker's late answers about the previous program's
    // hand-offs must not match this program's.
    private long _lastId = Random.Shared.NextInt64(long.MaxValue / 2);

    /// <summary>Connections held and not yet sent.</summary>
    public int Pending => _pending.Count;

    /// <summary>No more connections come in: what is held only goes out.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Some worker was sent a connection it has not acknowledged yet.</summary>
    public bool AnyInFlight
    {
        get
        {
            // Loops, not LINQ, here and in Load: both run for every connection, and a struct enumerator allocates nothing.
            foreach (var worker in _workers.Values)
            {
                if (worker.InFlight.Count > 0)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Stopped, and every connection accepted before was taken by a worker.</summary>
    public bool IsFlushed => Stopped && _pending.Count == 0 && !AnyInFlight;

    /// <summary>A new connection, last in line.</summary>
    public Handoff Accept(int fd, int endpoint, ConnectionAffinity affinity = default)
    {
        var handoff = new Handoff(++_lastId, fd, endpoint, affinity);
        _pending.AddLast(handoff);
        return handoff;
    }

    /// <summary>The connection to send next: the one that has waited longest.</summary>
    public bool TryPeek(out Handoff handoff)
    {
        handoff = _pending.First?.Value ?? default;
        return _pending.First is not null;
    }

    public void AddWorker(int workerId) => _workers.TryAdd(workerId, new WorkerHandoffs());

    /// <summary>The next connection (<see cref="TryPeek"/>) went to the worker at <paramref name="now"/>.</summary>
    public Handoff Sent(int workerId, long now)
    {
        var worker = _workers[workerId];
        if (worker.Retired)
        {
            throw new InvalidOperationException($"worker {workerId} is retired and takes no connections");
        }

        var handoff = _pending.First?.Value ?? throw new InvalidOperationException("no connection is pending");
        _pending.RemoveFirst();
        worker.InFlight.Add(handoff.Id, (handoff, now));
        worker.Dispatched++;
        return handoff;
    }

    /// <summary>
    /// Connections recorded as <see cref="Sent"/> did not go out after all (their worker's channel was full or broken):
    /// they go back to the front of the line, oldest first, as if never sent.
    /// </summary>
    public void Unsend(IReadOnlyList<(int WorkerId, Handoff Handoff)> unsent)
    {
        foreach (var (workerId, handoff) in unsent.OrderByDescending(entry => entry.Handoff.Id))
        {
            var worker = _workers[workerId];
            worker.InFlight.Remove(handoff.Id);
            worker.Dispatched--;
            _pending.AddFirst(handoff);
        }
    }

    /// <summary>What the worker holds unacknowledged (none for a worker not known).</summary>
    public HandoffLoad Load(int workerId)
    {
        if (!_workers.TryGetValue(workerId, out var worker) || worker.InFlight.Count == 0)
        {
            return default;
        }

        var oldest = long.MaxValue;
        foreach (var (_, sentAt) in worker.InFlight.Values)
        {
            oldest = Math.Min(oldest, sentAt);
        }

        return new HandoffLoad(worker.InFlight.Count, oldest);
    }

    /// <summary>Connections sent to the worker so far; 0 for a worker not known.</summary>
    public long Dispatched(int workerId) => _workers.TryGetValue(workerId, out var worker) ? worker.Dispatched : 0;

    /// <summary>
    /// The worker takes no new connections. The ones it has not acknowledged stay its own until it answers or exits:
    /// a live worker may already be serving them.
    /// </summary>
    public void Retire(int workerId)
    {
        if (_workers.TryGetValue(workerId, out var worker))
        {
            worker.Retired = true;
        }
    }

    /// <summary>
    /// The worker's answers: accepted ones are done (their descriptors are returned for the caller to close, the
    /// worker has its own copy); refused ones go back to the front of the line.
    /// </summary>
    public IReadOnlyList<int> OnAcks(int workerId, IReadOnlyList<(long ConnectionId, bool Accepted)> acks)
    {
        if (!_workers.TryGetValue(workerId, out var worker))
        {
            return [];
        }

        var taken = new List<int>(acks.Count);
        foreach (var (connectionId, accepted) in acks)
        {
            if (!worker.InFlight.Remove(connectionId, out var entry))
            {
                continue;
            }

            if (accepted)
            {
                taken.Add(entry.Handoff.Fd);
            }
            else
            {
                _pending.AddFirst(entry.Handoff);
            }
        }

        return taken;
    }

    /// <summary>The worker has exited: what it did not acknowledge goes to the front of the line, oldest first.</summary>
    public void RemoveWorker(int workerId)
    {
        if (!_workers.Remove(workerId, out var worker))
        {
            return;
        }

        foreach (var (handoff, _) in worker.InFlight.Values.OrderByDescending(entry => entry.Handoff.Id))
        {
            _pending.AddFirst(handoff);
        }
    }

    public void Stop() => Stopped = true;

    /// <summary>Forgets everything, returning every descriptor still held (pending or in flight) for the caller to close.</summary>
    public IReadOnlyList<int> Clear()
    {
        var fds = _pending.Select(handoff => handoff.Fd)
            .Concat(_workers.Values.SelectMany(worker => worker.InFlight.Values.Select(entry => entry.Handoff.Fd)))
            .ToList();
        _pending.Clear();
        _workers.Clear();
        return fds;
    }

    private sealed class WorkerHandoffs
    {
        public Dictionary<long, (Handoff Handoff, long SentAt)> InFlight { get; } = [];

        public bool Retired { get; set; }

        public long Dispatched { get; set; }
    }
}
