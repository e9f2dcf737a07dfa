using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Distribution;

/// <summary>
/// RoundRobin scheduling: the primary accepts every connection (one thread per endpoint) and hands it to the next
/// ready worker over its channel (SCM_RIGHTS). The primary keeps its copy until the worker acknowledges, so a
/// connection a worker refused or never took — it died — goes to another worker, never to the floor. While no worker
/// can take one, connections wait here (up to a bound, then in the kernel's backlog), so nothing is refused during a respawn.
/// </summary>
internal sealed class RoundRobinDispatcher : IConnectionDistribution
{
    private readonly object _lock = new();
    private readonly LinkedList<PendingConnection> _pending = new();
    private readonly List<Target> _targets = [];
    private readonly IReadOnlyList<BoundEndpoint> _endpoints;
    private readonly int _maxPending;
    private readonly int _maxInFlightPerWorker;
    private readonly DispatchMode _mode;
    private readonly long _stuckAfterMilliseconds;
    private readonly ILogger _logger;
    private readonly List<Thread> _acceptThreads = [];
    private readonly TaskCompletionSource _flushed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _next;
    private long _nextConnectionId;
    private bool _stopped;

    public RoundRobinDispatcher(
        IReadOnlyList<BoundEndpoint> endpoints, int maxPending, int maxInFlightPerWorker, DispatchMode mode, TimeSpan stuckAfter, ILogger logger)
    {
        _endpoints = endpoints;
        _maxPending = maxPending;
        _maxInFlightPerWorker = maxInFlightPerWorker;
        _mode = mode;
        _stuckAfterMilliseconds = (long)stuckAfter.TotalMilliseconds;
        _logger = logger;
    }

    /// <summary>Connections accepted and not yet handed to a worker.</summary>
    public int Queued
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    public bool CanShed => true;

    public void Start()
    {
        foreach (var endpoint in _endpoints)
        {
            var thread = new Thread(() => AcceptLoop(endpoint)) { IsBackground = true, Name = $"cluster-accept-{endpoint.Bound.Port}" };
            _acceptThreads.Add(thread);
            thread.Start();
        }
    }

    /// <summary>The worker is ready: it takes its turn from now on.</summary>
    public void AddWorker(int workerId, IpcChannel channel)
    {
        lock (_lock)
        {
            _targets.Add(new Target(workerId, channel));
            Pump();
        }
    }

    /// <summary>
    /// The worker takes no new connections. The ones it has not acknowledged stay its own until it answers or exits:
    /// a live worker may already be serving them.
    /// </summary>
    public void Retire(int workerId)
    {
        lock (_lock)
        {
            var target = _targets.Find(candidate => candidate.WorkerId == workerId);
            if (target is not null)
            {
                target.Retired = true;
                RemoveIfDone(target);
            }
        }
    }

    /// <summary>The worker has exited: whatever it did not acknowledge goes to other workers.</summary>
    public void RemoveWorker(int workerId)
    {
        lock (_lock)
        {
            var index = _targets.FindIndex(target => target.WorkerId == workerId);
            if (index >= 0)
            {
                RemoveTargetAt(index);
                Pump();
            }
        }
    }

    /// <summary>
    /// The worker was asked to close <paramref name="connections"/> keep-alive connections so their clients spread out:
    /// that many of the next connections go to the others, not back to it, for at most <paramref name="within"/> (its
    /// next load report). Bounded by count, so clients that open a connection per request hardly notice.
    /// </summary>
    public void Shedding(int workerId, int connections, TimeSpan within)
    {
        lock (_lock)
        {
            if (_targets.Find(candidate => candidate.WorkerId == workerId) is { } target)
            {
                target.ShedRemaining = connections;
                target.SheddingUntil = Environment.TickCount64 + (long)within.TotalMilliseconds;
            }
        }
    }

    /// <summary>A worker's report of its requests in flight, for least-busy dispatch.</summary>
    public void OnLoadReport(int workerId, int requestsInFlight)
    {
        lock (_lock)
        {
            if (_targets.Find(candidate => candidate.WorkerId == workerId) is { } target)
            {
                target.ReportedInFlight = requestsInFlight;
                target.SentSinceReport = 0;
                target.ReportedAt = Environment.TickCount64;
            }
        }
    }

    /// <summary>The worker took these connections (the primary closes its copies) or refused them (they go to others).</summary>
    public void OnAcks(int workerId, IReadOnlyList<(long ConnectionId, bool Accepted)> acks)
    {
        lock (_lock)
        {
            var target = _targets.Find(candidate => candidate.WorkerId == workerId);
            if (target is null)
            {
                return;
            }

            foreach (var (connectionId, accepted) in acks)
            {
                if (!target.InFlight.Remove(connectionId, out var connection))
                {
                    continue;
                }

                if (accepted)
                {
                    SocketInterop.Close(connection.Fd);
                }
                else
                {
                    _pending.AddFirst(connection);
                }
            }

            RemoveIfDone(target);
            Pump();
        }
    }

    /// <summary>Connections handed to the worker so far; 0 once it has left.</summary>
    public long Dispatched(int workerId)
    {
        lock (_lock)
        {
            return _targets.Find(target => target.WorkerId == workerId)?.Dispatched ?? 0;
        }
    }

    /// <summary>
    /// Completes once accepting has stopped and every connection accepted before has been taken by a worker — the
    /// moment it is safe to tell workers to drain. Never completes while no worker can take connections.
    /// </summary>
    public Task Flushed => _flushed.Task;

    private void RemoveIfDone(Target target)
    {
        if (target.Retired && target.InFlight.Count == 0)
        {
            RemoveTargetAt(_targets.IndexOf(target));
        }
    }

    private void AcceptLoop(BoundEndpoint endpoint)
    {
        while (true)
        {
            lock (_lock)
            {
                while (_pending.Count >= _maxPending && !_stopped)
                {
                    Monitor.Wait(_lock);
                }

                if (_stopped)
                {
                    return;
                }
            }

            var fd = SocketInterop.Accept(endpoint.Fd, out var errno);
            lock (_lock)
            {
                if (_stopped)
                {
                    if (fd >= 0)
                    {
                        SocketInterop.Close(fd);
                    }

                    return;
                }

                if (fd >= 0)
                {
                    _pending.AddLast(new PendingConnection(++_nextConnectionId, fd, endpoint.Index));
                    Pump();
                    continue;
                }
            }

            if (errno is not (Libc.EINTR or Libc.EAGAIN))
            {
                // EMFILE and the like: back off briefly rather than spin; the connection waits in the backlog.
                _logger.LogWarning("accept on {Url} failed with errno {Errno}", endpoint.Url, errno);
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>Hands pending connections to workers with room, in turn. Called with the lock held.</summary>
    private void Pump()
    {
        while (_pending.First is { } node)
        {
            var target = NextTarget();
            if (target is null)
            {
                return;
            }

            var connection = node.Value;
            _pending.RemoveFirst();
            if (TrySend(target, connection))
            {
                target.InFlight[connection.Id] = connection with { HandedOverAt = Environment.TickCount64 };
                target.Dispatched++;
            }
            else
            {
                // The descriptor did not leave; it goes to the next worker. The ones this worker holds wait for its exit.
                _pending.AddFirst(connection);
                _logger.LogWarning("Worker {Id} could not be sent a connection; its channel is dropped", target.WorkerId);
                target.Channel.Shutdown();
                target.Retired = true;
                RemoveIfDone(target);
            }
        }

        Monitor.PulseAll(_lock);
        if (_stopped && _pending.Count == 0 && _targets.TrueForAll(target => target.InFlight.Count == 0))
        {
            _flushed.TrySetResult();
        }
    }

    private Target? NextTarget()
    {
        Target? chosen = null;
        Target? passedOver = null;
        var chosenIndex = 0;
        var now = Environment.TickCount64;
        for (var i = 0; i < _targets.Count; i++)
        {
            var index = (_next + i) % _targets.Count;
            var target = _targets[index];
            if (target.Retired || target.InFlight.Count >= _maxInFlightPerWorker)
            {
                continue;
            }

            if (target.ShedRemaining > 0 && target.SheddingUntil > now && HasOtherTarget(target))
            {
                passedOver ??= target;
                continue;
            }

            if (_mode == DispatchMode.RoundRobin)
            {
                (chosen, chosenIndex) = (target, index);
                break;
            }

            // Least busy: fewest requests in flight as last reported plus what was sent since; ties go round-robin.
            if (chosen is null || target.Load(now, _stuckAfterMilliseconds) < chosen.Load(now, _stuckAfterMilliseconds))
            {
                (chosen, chosenIndex) = (target, index);
            }
        }

        if (chosen is not null)
        {
            _next = (chosenIndex + 1) % _targets.Count;
            chosen.SentSinceReport++;
            if (passedOver is not null)
            {
                passedOver.ShedRemaining--;
            }
        }

        return chosen;
    }

    /// <summary>
    /// Another worker takes connections: a shedding worker is passed over only then. When the others are at their
    /// hand-over bound, the connection waits for their acknowledgements (milliseconds) rather than going back.
    /// </summary>
    private bool HasOtherTarget(Target shedding) => _targets.Exists(target => target != shedding && !target.Retired);

    private static bool TrySend(Target target, PendingConnection connection)
    {
        Span<byte> payload = stackalloc byte[FrameFormat.NewConnectionSize];
        FrameFormat.WriteNewConnection(payload, connection.Id, connection.Endpoint);
        try
        {
            target.Channel.Send(FrameType.NewConnection, payload, [connection.Fd]);
            return true;
        }
        catch (Exception error) when (error is System.ComponentModel.Win32Exception or ObjectDisposedException)
        {
            return false;
        }
    }

    private void RemoveTargetAt(int index)
    {
        var target = _targets[index];
        _targets.RemoveAt(index);
        if (index < _next)
        {
            _next--;
        }

        // Oldest first, at the front of the queue: they have waited longest.
        foreach (var connection in target.InFlight.Values.OrderByDescending(connection => connection.Id))
        {
            _pending.AddFirst(connection);
        }

        target.InFlight.Clear();
    }

    public async Task StopAcceptingAsync()
    {
        // Joins the accept threads: off the caller's thread.
        await Task.Run(StopAccepting).ConfigureAwait(false);
        await Flushed.ConfigureAwait(false);
    }

    /// <summary>
    /// Stops accepting. What the kernel had already accepted (the backlog) is taken first, since closing a listening
    /// socket resets those connections; all of it, and whatever was queued here, goes on to the workers still ready.
    /// </summary>
    public void StopAccepting()
    {
        foreach (var endpoint in _endpoints)
        {
            SocketInterop.SetNonBlocking(endpoint.Fd);
            int fd;
            while ((fd = SocketInterop.Accept(endpoint.Fd, out _)) >= 0)
            {
                lock (_lock)
                {
                    _pending.AddLast(new PendingConnection(++_nextConnectionId, fd, endpoint.Index));
                }
            }
        }

        lock (_lock)
        {
            _stopped = true;
            Pump();
        }

        foreach (var endpoint in _endpoints)
        {
            SocketInterop.Shutdown(endpoint.Fd);
        }

        foreach (var thread in _acceptThreads)
        {
            thread.Join();
        }
    }

    /// <summary>Closes what no worker took (with a FIN, not a reset). Call after every worker has gone.</summary>
    public void Dispose()
    {
        if (!_stopped)
        {
            StopAccepting();
        }

        lock (_lock)
        {
            foreach (var connection in _pending.Concat(_targets.SelectMany(target => target.InFlight.Values)))
            {
                SocketInterop.CloseWithoutReset(connection.Fd);
            }

            _pending.Clear();
            _targets.Clear();
        }
    }

    private readonly record struct PendingConnection(long Id, int Fd, int Endpoint, long HandedOverAt = 0);

    private sealed class Target(int workerId, IpcChannel channel)
    {
        private const long UnacknowledgedIsStuckMilliseconds = 500;

        public int WorkerId { get; } = workerId;

        public long Dispatched { get; set; }

        public IpcChannel Channel { get; } = channel;

        public Dictionary<long, PendingConnection> InFlight { get; } = [];

        public bool Retired { get; set; }

        public int ReportedInFlight { get; set; }

        public int SentSinceReport { get; set; }

        public long ReportedAt { get; set; } = Environment.TickCount64;

        /// <summary>Connections still to go to others after it was asked to shed, until <see cref="SheddingUntil"/>.</summary>
        public int ShedRemaining { get; set; }

        /// <summary>When (Environment.TickCount64) a shed's claim on the next connections lapses.</summary>
        public long SheddingUntil { get; set; }

        /// <summary>
        /// Its load for least-busy dispatch: requests in flight as last reported, plus connections sent since. A worker
        /// that leaves a connection unacknowledged for long (a healthy one takes it within milliseconds), or whose
        /// reports are late, counts as saturated: it is probably stuck.
        /// </summary>
        public long Load(long now, long stuckAfterMilliseconds)
        {
            var stuck = now - ReportedAt > stuckAfterMilliseconds || InFlight.Values.Any(connection => now - connection.HandedOverAt > UnacknowledgedIsStuckMilliseconds);
            return ReportedInFlight + SentSinceReport + (stuck ? 1_000_000L : 0L);
        }
    }
}
