using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Distribution;

/// <summary>
/// RoundRobin scheduling: the primary accepts every connection (<see cref="Acceptor"/>), holds it until a worker
/// acknowledges it (<see cref="HandoffLedger"/>) and hands it to the worker <see cref="TargetSelector"/> picks over its
/// channel (<see cref="WorkerSendQueue"/>, SCM_RIGHTS). This class only coordinates them, under the one lock, and nothing
/// done under it waits for a worker: one that stops reading costs the others nothing.
/// </summary>
internal sealed class RoundRobinDispatcher : IConnectionDistribution
{
    /// <summary>How long a worker's channel may stay full before it counts as hung, by default (as the blocking send's timeout did).</summary>
    public static readonly TimeSpan DefaultUnresponsiveAfter = TimeSpan.FromSeconds(1);

    /// <summary>How long a new connection may take to send its request line before it goes round-robin (<see cref="AffinityMode.ConnectionToken"/>).</summary>
    public static readonly TimeSpan PeekDeadline = TimeSpan.FromSeconds(1);

    private readonly TimeSpan _unresponsiveAfter;
    private readonly AffinityMode _affinity;
    private readonly RequestPeeker? _peeker;

    private readonly object _lock = new();
    private readonly HandoffLedger _ledger = new();
    private readonly Func<int, HandoffLoad> _loadOf;
    private readonly TargetSelector _selector;
    private readonly Dictionary<int, WorkerSendQueue> _queues = [];
    private readonly Acceptor _acceptor;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _flushed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer _readingCheck;
    private bool _checkingReading;
    private long _waitingRaisedAt = long.MinValue / 2;

    public RoundRobinDispatcher(
        IReadOnlyList<BoundEndpoint> endpoints, int maxPending, int maxInFlightPerWorker, DispatchMode mode, TimeSpan stuckAfter, ILogger logger, TimeSpan? unresponsiveAfter = null,
        AffinityMode affinity = AffinityMode.None)
    {
        _unresponsiveAfter = unresponsiveAfter ?? DefaultUnresponsiveAfter;
        _affinity = affinity;
        _peeker = affinity == AffinityMode.ConnectionToken ? new RequestPeeker(PeekDeadline, OnRouted) : null;
        _logger = logger;
        _selector = new TargetSelector(mode, maxInFlightPerWorker, (long)stuckAfter.TotalMilliseconds);
        // One delegate for the selector's every choice, not one per connection.
        _loadOf = _ledger.Load;
        _acceptor = new Acceptor(endpoints, maxPending, OnAccepted, logger);
        // Started by the first hand-off (ScheduleReadingCheck): an idle primary does not wake for it.
        _readingCheck = TimeProvider.System.CreateTimer(_ => CheckReading(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>A worker left its channel full, or what it was sent unread, past the bound; its channel was shut down (it exits, and is replaced). Raised once, outside the lock.</summary>
    public event Action<int>? Unresponsive;

    /// <summary>A connection was accepted and no worker could take it (none serves, or all are full); raised outside the lock.</summary>
    public event Action? Waiting;

    /// <summary>Connections accepted and not yet handed to a worker.</summary>
    public int Queued => Locked(() => _ledger.Pending);

    /// <summary>Accepting stopped and every connection accepted before was taken: the moment to tell workers to drain.</summary>
    public Task Flushed => _flushed.Task;

    public bool CanShed => true;

    public void Start() => _acceptor.Start();

    public void PauseAccepting() => _acceptor.Pause();

    public void ResumeAccepting() => _acceptor.Resume();

    /// <summary>Connections still being peeked at count as held: they are routed within the peek deadline.</summary>
    public int HandOutHeld() => Locked(() =>
    {
        Pump();
        return _ledger.Pending + (_peeker?.Count ?? 0);
    });

    /// <summary>The check that workers read what they were sent runs: some hand-off is unacknowledged.</summary>
    internal bool CheckingReading => Locked(() => _checkingReading);

    /// <summary>Connections handed to the worker so far; 0 for a worker not known (or gone).</summary>
    public long Dispatched(int workerId) => Locked(() => _ledger.Dispatched(workerId));

    /// <summary>The primary hands connections over: a worker gets no listening socket.</summary>
    public int[] ListenFdsFor(int workerId) => [];

    public void AddWorker(int workerId, IpcChannel channel) => Locked(() =>
    {
        _ledger.AddWorker(workerId);
        _selector.Add(workerId, Now);
        _queues[workerId] = new WorkerSendQueue(workerId, channel, _unresponsiveAfter, OnWritable, OnUnresponsive);
        Pump();
    });

    /// <summary>The worker takes no new connections; the ones it has not acknowledged stay its own until it answers or exits.</summary>
    public void Retire(int workerId) => Locked(() =>
    {
        _selector.Retire(workerId);
        _ledger.Retire(workerId);
    });

    /// <summary>The worker has exited: what it did not acknowledge goes to others.</summary>
    public void RemoveWorker(int workerId) => Locked(() =>
    {
        _queues.Remove(workerId, out var queue);
        queue?.Dispose();
        _selector.Remove(workerId);
        _ledger.RemoveWorker(workerId);
        Pump();
    });

    /// <summary>The next <paramref name="connections"/> go to others, for at most <paramref name="within"/> (<see cref="TargetSelector.Shedding"/>).</summary>
    public void Shedding(int workerId, int connections, TimeSpan within) =>
        Locked(() => _selector.Shedding(workerId, connections, Now + (long)within.TotalMilliseconds));

    public void OnLoadReport(int workerId, int requestsInFlight) => Locked(() => _selector.OnLoadReport(workerId, requestsInFlight, Now));

    /// <summary>The worker took these connections (the primary closes its copies) or refused them (they go to others).</summary>
    public void OnAcks(int workerId, IReadOnlyList<(long ConnectionId, bool Accepted)> acks)
    {
        var taken = Locked(() =>
        {
            var fds = _ledger.OnAcks(workerId, acks);
            Pump();
            return fds;
        });

        // Outside the lock: the ledger no longer holds these, and a batch of closes there kept the accept thread (and the
        // other workers' acks) waiting, a futex sleep and wake-up each time, on every busy connection.
        foreach (var fd in taken)
        {
            SocketInterop.Close(fd);
        }
    }

    /// <summary>Stops accepting; the backlog and whatever was queued here go on to the workers still ready.</summary>
    public void StopAccepting()
    {
        _acceptor.StopBlockingAccepts();
        _acceptor.DrainBacklog();
        _peeker?.Flush();
        Locked(() =>
        {
            _ledger.Stop();
            Pump();
        });
        _acceptor.Stop();
    }

    public async Task StopAcceptingAsync()
    {
        // Joins the accept threads: off the caller's thread.
        await Task.Run(StopAccepting).ConfigureAwait(false);
        await Flushed.ConfigureAwait(false);
    }

    /// <summary>Stops accepting if a stop did not, then closes what no worker took (with a FIN, not a reset). Call after every worker has gone.</summary>
    public void Dispose()
    {
        if (!Locked(() => _ledger.Stopped))
        {
            StopAccepting();
        }

        _peeker?.Dispose();
        Locked(CloseWhatNoWorkerTook);
        // Last: the stop above may still start it.
        _readingCheck.Dispose();
    }

    private void CloseWhatNoWorkerTook()
    {
        foreach (var queue in _queues.Values)
        {
            queue.Dispose();
        }

        foreach (var fd in _ledger.Clear())
        {
            SocketInterop.CloseWithoutReset(fd);
        }
    }

    private static long Now => Environment.TickCount64;

    /// <summary>
    /// Hands connections out until none is left or no worker can take one, each worker's share of a batch in one frame
    /// (one sendmsg). The choices are recorded as sent first, so each sees the ones before it; a share that did not go
    /// out is taken back, its worker is blocked (or retired), and the next round chooses again. Called with the lock held.
    /// </summary>
    private void Pump()
    {
        var now = Now;
        while (_ledger.Pending > 0 && Plan(now) is { Count: > 0 } batches)
        {
            var unsent = new List<(int WorkerId, Handoff Handoff)>();
            foreach (var (workerId, handoffs) in batches)
            {
                if (!Send(workerId, handoffs))
                {
                    unsent.AddRange(handoffs.Select(handoff => (workerId, handoff)));
                }
            }

            _ledger.Unsend(unsent);
        }

        _acceptor.Held(_ledger.Pending + (_peeker?.Count ?? 0));
        ScheduleReadingCheck();
        if (_ledger.IsFlushed)
        {
            _flushed.TrySetResult();
        }
    }

    /// <summary>
    /// Runs the reading check (every half bound) only while some hand-off is unacknowledged: it has nothing to find
    /// otherwise. Every change to what is in flight ends in <see cref="Pump"/>, which calls this. Called with the lock held.
    /// </summary>
    private void ScheduleReadingCheck()
    {
        var due = _ledger.AnyInFlight;
        if (due != _checkingReading)
        {
            _checkingReading = due;
            var period = due ? _unresponsiveAfter / 2 : Timeout.InfiniteTimeSpan;
            _readingCheck.Change(period, period);
        }
    }

    /// <summary>The pending connections by chosen worker, recorded as sent; at most one frame's worth for any worker.</summary>
    private Dictionary<int, List<Handoff>> Plan(long now)
    {
        var batches = new Dictionary<int, List<Handoff>>();
        while (_ledger.TryPeek(out var next) && _selector.Choose(now, _loadOf, next.Affinity) is { } choice)
        {
            if (!batches.TryGetValue(choice.WorkerId, out var batch))
            {
                batches[choice.WorkerId] = batch = [];
            }

            batch.Add(_ledger.Sent(choice.WorkerId, now));
            _selector.Sent(choice);
            if (batch.Count == SocketInterop.MaxFdsPerMessage)
            {
                break;
            }
        }

        return batches;
    }

    /// <summary>One worker's share in one frame; false when it did not go out (the caller takes it back).</summary>
    private bool Send(int workerId, List<Handoff> handoffs)
    {
        switch (_queues[workerId].TrySend(handoffs))
        {
            case SendOutcome.Sent:
                return true;
            case SendOutcome.Blocked:
                // This one waits for room; its share goes to the next worker at once.
                _selector.SetBlocked(workerId, true);
                return false;
            default:
                _logger.LogWarning("Worker {WorkerId} could not be sent a connection; its channel is dropped", workerId);
                Retire(workerId);
                return false;
        }
    }

    private bool OnAccepted(IReadOnlyList<int> fds, int endpoint)
    {
        var (taken, waiting) = Locked(() =>
        {
            if (_ledger.Stopped)
            {
                return (false, false);
            }

            foreach (var fd in fds)
            {
                Take(fd, endpoint);
            }

            Pump();
            return (true, WaitingDue());
        });
        RaiseWaiting(waiting);
        return taken;
    }

    /// <summary>Under the lock: connections wait for a worker and the supervisor has not been told lately.</summary>
    private bool WaitingDue()
    {
        var now = Now;
        if (_ledger.Pending == 0 || now - _waitingRaisedAt < (long)IConnectionDistribution.WaitingSpacing.TotalMilliseconds)
        {
            return false;
        }

        _waitingRaisedAt = now;
        return true;
    }

    private void RaiseWaiting(bool waiting)
    {
        if (waiting)
        {
            // Outside the lock: the supervisor's queue may make the caller wait.
            Waiting?.Invoke();
        }
    }

    private void Take(int fd, int endpoint)
    {
        switch (_affinity)
        {
            case AffinityMode.ConnectionToken:
                // Routed once its request line shows (OnRouted), off this thread: the accept path never waits for a client.
                _peeker!.Add(fd, endpoint);
                break;
            case AffinityMode.ClientIp:
                _ledger.Accept(fd, endpoint, ConnectionAffinity.ToClient(PeekInterop.PeerAddressHash(fd)));
                break;
            default:
                _ledger.Accept(fd, endpoint);
                break;
        }
    }

    /// <summary>Each worker's queue checks that its worker reads what it was sent (<see cref="WorkerSendQueue.CheckReading"/>).</summary>
    private void CheckReading()
    {
        var now = Now;
        var queues = Locked(() => _queues.Select(pair => (Queue: pair.Value, Load: _ledger.Load(pair.Key))).ToList());
        foreach (var (queue, load) in queues)
        {
            // Outside the lock: a queue that gives up reports it, and that takes the lock.
            queue.CheckReading(now, load);
        }
    }

    /// <summary>A peeked connection found its worker (or none): it queues like any other, and may need a worker started.</summary>
    private void OnRouted(int fd, int endpoint, int? workerId) => RaiseWaiting(Locked(() =>
    {
        _ledger.Accept(fd, endpoint, ConnectionAffinity.ToWorker(workerId));
        Pump();
        return WaitingDue();
    }));

    private void OnWritable(int workerId) => Locked(() =>
    {
        _selector.SetBlocked(workerId, false);
        Pump();
    });

    /// <summary>Its queue has shut its channel; what it holds stays its own until it exits, then goes to others.</summary>
    private void OnUnresponsive(int workerId)
    {
        Retire(workerId);
        _logger.LogWarning("Worker {WorkerId} has not read its channel for {Bound}; its channel is dropped", workerId, _unresponsiveAfter);
        Unresponsive?.Invoke(workerId);
    }

    private void Locked(Action action) => Locked(() =>
    {
        action();
        return true;
    });

    private T Locked<T>(Func<T> read)
    {
        lock (_lock)
        {
            return read();
        }
    }
}
