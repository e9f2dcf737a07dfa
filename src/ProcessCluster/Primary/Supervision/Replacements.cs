using ProcessCluster.Ipc;
using ProcessCluster.Policies;

namespace ProcessCluster.Primary;

/// <summary>
/// Surge-then-drain replacements, whether a rolling reload or recycling: a successor starts first, and its old worker
/// drains only once the successor is ready. A successor that fails stops a reload there; the old workers keep serving.
/// </summary>
internal sealed class Replacements(SupervisorContext context, WorkerOperations operations)
{
    private readonly ReplacementQueue _queue = new();
    private ReloadRun? _reload;
    private DateTimeOffset _recyclingHeldUntil;

    public bool Contains(int workerId) => _queue.Contains(workerId);

    /// <summary>No reload and no replacement under way.</summary>
    public bool Idle => _reload is null && _queue.Entries.Count == 0;

    /// <summary>Whether the worker was started to replace another (it serves at once, never as a spare).</summary>
    public bool IsSuccessor(int workerId) => _queue.Entries.Any(step => step.SuccessorId == workerId && step.Phase == ReplacementPhase.StartingSuccessor);

    /// <summary>Successors starting now: each stands in its old worker's place, not beside it.</summary>
    public int Surging => _queue.Entries.Count(step => step.Phase == ReplacementPhase.StartingSuccessor);

    public void QueueRecycling(WorkerHandle worker, HealthVerdict verdict)
    {
        var now = context.Now;
        if (context.Stopping || context.GaveUp || now < _recyclingHeldUntil || _queue.Contains(worker.Id))
        {
            return;
        }

        var reason = verdict switch
        {
            HealthVerdict.RecycleForMemory => StopReason.RecycledForMemory,
            HealthVerdict.RecycleForRequests => StopReason.RecycledForRequests,
            _ => StopReason.RecycledForLifetime,
        };
        SupervisorLog.WillRecycle(context.Logger, worker, reason.Describe(), worker.Requests, worker.ResidentBytes / (1024 * 1024), (now - worker.ForkedAt).TotalSeconds);
        _queue.Enqueue(worker.Id, reason);
    }

    /// <summary>
    /// A worker that failed its health probes leaves dispatch now and is replaced like a recycled one: its successor
    /// first, then it drains, with reason health. Nothing waits for recycling's hold-off: a sick worker serves nobody.
    /// </summary>
    public void ReplaceUnhealthy(WorkerHandle worker)
    {
        operations.Retire(worker);
        if (context.Stopping || context.GaveUp)
        {
            operations.Drain(worker, StopReason.Health);
            return;
        }

        _queue.Enqueue(worker.Id, StopReason.Health);
        Advance();
    }

    /// <summary>Replaces every ready worker with a fresh process from the binary on disk; spares leave at once.</summary>
    public void StartReload(TaskCompletionSource<ReloadResult> done, int desiredWorkers)
    {
        if (context.Stopping)
        {
            done.TrySetResult(new ReloadResult(false, 0, "the cluster is stopping"));
            return;
        }

        if (_reload is not null)
        {
            _reload.Waiters.Add(done);
            return;
        }

        var serving = context.Workers.In(WorkerState.Ready).ToList();
        _reload = new ReloadRun(context.Now, serving.Count, [done]);
        context.Observer.ReloadStarted(serving.Count, context.Options.ReloadConcurrency);
        serving.ForEach(worker => _queue.Enqueue(worker.Id, StopReason.Reload));
        // Spares serve nothing: they leave at once, and their successors start from the binary on disk.
        foreach (var spare in context.Workers.In(WorkerState.Spare).ToList())
        {
            operations.Drain(spare, StopReason.Reload);
        }

        var missing = desiredWorkers - context.Workers.All.Count(worker => worker.State != WorkerState.Draining);
        for (var i = 0; i < missing; i++)
        {
            operations.TryFork();
        }

        Advance();
    }

    /// <summary>A worker is ready; if it is a successor, its old worker drains now.</summary>
    public void WorkerReady(WorkerHandle worker)
    {
        if (_queue.WorkerReady(worker.Id) is { } step)
        {
            if (context.Workers.Find(step.OldWorkerId) is { } old)
            {
                SupervisorLog.SuccessorReady(context.Logger, worker.Id, worker.ProcessId, old, step.Reason.Describe());
                operations.Drain(old, step.Reason);
            }
            else
            {
                _queue.WorkerExited(step.OldWorkerId);
            }
        }

        Advance();
    }

    /// <summary>A worker exited: its replacement step, if it had one, leaves the queue with what the exit meant for it.</summary>
    public (Replacement Step, ReplacementOutcome Outcome)? TakeOutcome(WorkerHandle worker) => _queue.WorkerExited(worker.Id);

    /// <summary>Acts on that outcome: a failed successor stops a reload (or holds recycling back); a drained old worker completes its step.</summary>
    public void Settle(WorkerHandle worker, (Replacement Step, ReplacementOutcome Outcome)? replacement)
    {
        switch (replacement)
        {
            case ({ } step, ReplacementOutcome.SuccessorFailed):
                var why = worker.StopReason switch
                {
                    StopReason.NotReadyInTime => $"not listening within Cluster:ReadyTimeout ({context.Options.ReadyTimeout.TotalSeconds:0.#} s), killed",
                    StopReason.IncompatibleProtocol when worker.View.Build is var (protocol, library) =>
                        ChannelProtocol.Mismatch(protocol, library, ChannelProtocol.Version, ChannelProtocol.Library),
                    _ => $"{worker.ExitStatus} (its output is in the log above)",
                };
                var message = $"{worker} of release {worker.Release} did not become ready: {why}; worker {step.OldWorkerId} keeps serving";
                if (step.Reason == StopReason.Reload)
                {
                    Abort(message);
                }
                else if (step.Reason == StopReason.Health && context.Workers.Find(step.OldWorkerId) is { } sick)
                {
                    // Out of dispatch already, and sick: it goes anyway; the pool starts the worker missing.
                    SupervisorLog.RecyclingFailed(context.Logger, message);
                    operations.Drain(sick, StopReason.Health);
                }
                else
                {
                    // Do not retry at once: whatever broke the successor is likely to break the next one.
                    _recyclingHeldUntil = context.Now + context.Options.RecycleMinLifetime;
                    SupervisorLog.RecyclingFailed(context.Logger, message);
                }

                break;
            case ({ Reason: StopReason.Reload }, ReplacementOutcome.Completed) when _reload is not null:
                _reload.Replaced++;
                break;
        }
    }

    /// <summary>Starts successors for the next replacements: a reload runs several at once if configured, recycling one.</summary>
    public void Advance()
    {
        if (!context.Stopping && !context.GaveUp)
        {
            _queue.CancelWaiting(step => context.Workers.Find(step.OldWorkerId) is not { State: WorkerState.Ready });
            foreach (var step in _queue.TakeNext(_reload is null ? 1 : context.Options.ReloadConcurrency))
            {
                if (operations.TryFork() is { } successor)
                {
                    _queue.SuccessorStarted(step.OldWorkerId, successor.Id);
                    SupervisorLog.StartingSuccessor(context.Logger, successor.Id, step.OldWorkerId, step.Reason.Describe());
                }
                else
                {
                    _queue.WorkerExited(step.OldWorkerId);
                }
            }
        }

        CompleteReloadIfDone();
    }

    /// <summary>No reload goes on and no queued replacement starts (the cluster stops, or workers die in a loop).</summary>
    public void Abandon(string reason)
    {
        Abort(reason);
        _queue.CancelWaiting(_ => true);
    }

    private void CompleteReloadIfDone()
    {
        if (_reload is { } reload && !_queue.Any(step => step.Reason == StopReason.Reload))
        {
            var elapsed = (context.Now - reload.StartedAt).TotalSeconds;
            Finish(new ReloadResult(true, reload.Replaced, $"{reload.Replaced} of {reload.Total} workers replaced in {elapsed:0.0} s"));
        }
    }

    private void Abort(string reason)
    {
        if (_reload is { } reload)
        {
            _queue.CancelWaiting(step => step.Reason == StopReason.Reload);
            Finish(new ReloadResult(false, reload.Replaced, reason));
        }
    }

    private void Finish(ReloadResult result)
    {
        var waiters = _reload!.Waiters;
        _reload = null;
        context.Observer.ReloadFinished(result);
        waiters.ForEach(waiter => waiter.TrySetResult(result));
    }

    private sealed class ReloadRun(DateTimeOffset startedAt, int total, List<TaskCompletionSource<ReloadResult>> waiters)
    {
        public DateTimeOffset StartedAt { get; } = startedAt;

        public int Total { get; } = total;

        public int Replaced { get; set; }

        public List<TaskCompletionSource<ReloadResult>> Waiters { get; } = waiters;
    }
}
