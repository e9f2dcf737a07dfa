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

    private readonly TimeSpan _unresponsiveAfter;

    private readonly object _lock = new();
    private readonly HandoffLedger _ledger = new();
    private readonly TargetSelector _selector;
    private readonly Dictionary<int, WorkerSendQueue> _queues = [];
    private readonly Acceptor _acceptor;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _flushed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RoundRobinDispatcher(
        IReadOnlyList<BoundEndpoint> endpoints, int maxPending, int maxInFlightPerWorker, DispatchMode mode, TimeSpan stuckAfter, ILogger logger, TimeSpan? unresponsiveAfter = null)
    {
        _unresponsiveAfter = unresponsiveAfter ?? DefaultUnresponsiveAfter;
        _logger = logger;
        _selector = new TargetSelector(mode, maxInFlightPerWorker, (long)stuckAfter.TotalMilliseconds);
        _acceptor = new Acceptor(endpoints, maxPending, OnAccepted, logger);
    }

    /// <summary>A worker's channel stayed full past the bound and was shut down (it exits, and is replaced). Raised once, outside the lock.</summary>
    public event Action<int>? Unresponsive;

    /// <summary>Connections accepted and not yet handed to a worker.</summary>
    public int Queued => Locked(() => _ledger.Pending);

    /// <summary>Accepting stopped and every connection accepted before was taken: the moment to tell workers to drain.</summary>
    public Task Flushed => _flushed.Task;

    public bool CanShed => true;

    public void Start() => _acceptor.Start();

    public void PauseAccepting() => _acceptor.Pause();

    public void ResumeAccepting() => _acceptor.Resume();

    public int HandOutHeld() => Locked(() =>
    {
        Pump();
        return _ledger.Pending;
    });

    /// <summary>Connections handed to the worker so far; 0 for a worker not known (or gone).</summary>
    public long Dispatched(int workerId) => Locked(() => _ledger.Dispatched(workerId));

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
    public void OnAcks(int workerId, IReadOnlyList<(long ConnectionId, bool Accepted)> acks) => Locked(() =>
    {
        foreach (var fd in _ledger.OnAcks(workerId, acks))
        {
            SocketInterop.Close(fd);
        }

        Pump();
    });

    /// <summary>Stops accepting; the backlog and whatever was queued here go on to the workers still ready.</summary>
    public void StopAccepting()
    {
        _acceptor.StopAdopted();
        _acceptor.DrainBacklog();
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

        Locked(CloseWhatNoWorkerTook);
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

    /// <summary>Hands connections out until none is left or no worker can take one. Called with the lock held.</summary>
    private void Pump()
    {
        var now = Now;
        while (_ledger.TryPeek(out var handoff) && _selector.Choose(now, _ledger.Load) is { } choice)
        {
            switch (_queues[choice.WorkerId].TrySend(handoff))
            {
                case SendOutcome.Sent:
                    _ledger.Sent(choice.WorkerId, now);
                    _selector.Sent(choice);
                    break;
                case SendOutcome.Blocked:
                    // The connection stays first in line and goes to the next worker at once; this one waits for room.
                    _selector.SetBlocked(choice.WorkerId, true);
                    break;
                case SendOutcome.Broken:
                    _logger.LogWarning("Worker {WorkerId} could not be sent a connection; its channel is dropped", choice.WorkerId);
                    Retire(choice.WorkerId);
                    break;
            }
        }

        _acceptor.Held(_ledger.Pending);
        if (_ledger.IsFlushed)
        {
            _flushed.TrySetResult();
        }
    }

    private bool OnAccepted(int fd, int endpoint) => Locked(() =>
    {
        if (_ledger.Stopped)
        {
            return false;
        }

        _ledger.Accept(fd, endpoint);
        Pump();
        return true;
    });

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
