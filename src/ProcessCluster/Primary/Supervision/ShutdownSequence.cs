namespace ProcessCluster.Primary;

/// <summary>
/// The cluster's stop, run on the loop like everything else. Graceful: accepting stops; the connections the primary
/// holds go to workers (starting one if none is up, as in a respawn gap); only then does every worker drain; past the
/// drain timeout the rest are killed. Fast (gunicorn's SIGQUIT): every worker is killed at once.
/// </summary>
internal sealed class ShutdownSequence(SupervisorContext context, WorkerOperations operations, Replacements replacements, PoolSizer pool, Action<SupervisorEvent> post)
{
    /// <summary>After SIGKILL, time for the reapers to report; SIGKILL cannot be refused, so this is only a bound.</summary>
    private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(5);

    private readonly TaskCompletionSource<bool> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Phase _phase = Phase.Running;
    private bool _timedOut;

    private enum Phase
    {
        Running,

        /// <summary>Accepting has stopped; connections the primary holds are still going to workers.</summary>
        Flushing,

        /// <summary>Every worker was told to drain.</summary>
        Draining,

        /// <summary>The rest are being killed.</summary>
        Killing,
    }

    /// <summary>Completes when every worker has exited: true when none had to be killed at the drain timeout.</summary>
    public Task<bool> Completion => _done.Task;

    public void Begin()
    {
        if (_phase != Phase.Running)
        {
            return;
        }

        _phase = Phase.Flushing;
        context.Stopping = true;
        context.Observer.Stopping();
        replacements.Abandon("the cluster is stopping");
        context.PostAfter(new StopDeadline(), context.Options.DrainTimeout + WorkerOperations.ExitGrace);
        _ = FlushAsync();
        ServeHeldConnections();
    }

    /// <summary>Every held connection has a worker: now they may all drain (a draining worker takes no more).</summary>
    public void ConnectionsFlushed()
    {
        if (_phase != Phase.Flushing)
        {
            return;
        }

        _phase = Phase.Draining;
        foreach (var worker in context.Workers.All.ToList())
        {
            operations.Drain(worker, StopReason.Shutdown);
        }

        CompleteIfNoneLeft();
    }

    /// <summary>A worker exited or a probe came: a held connection may now lack a worker, or the stop may be complete.</summary>
    public void Check()
    {
        ServeHeldConnections();
        CompleteIfNoneLeft();
    }

    public void DeadlinePassed()
    {
        if (_done.Task.IsCompleted || _phase == Phase.Running)
        {
            return;
        }

        if (_phase == Phase.Killing)
        {
            Complete();
            return;
        }

        if (context.Distribution.Queued > 0)
        {
            SupervisorLog.HeldConnectionsClosed(context.Logger);
        }

        _timedOut = true;
        foreach (var worker in context.Workers.All)
        {
            SupervisorLog.KilledLate(context.Logger, worker, "did not finish draining in time");
        }

        KillRest();
    }

    public void KillEveryone()
    {
        Begin();
        SupervisorLog.FastStop(context.Logger, context.Workers.Count);
        KillRest();
    }

    private void KillRest()
    {
        _phase = Phase.Killing;
        foreach (var worker in context.Workers.All.ToList())
        {
            operations.Terminate(worker, StopReason.Shutdown);
        }

        context.PostAfter(new StopDeadline(), KillGrace);
        CompleteIfNoneLeft();
    }

    private async Task FlushAsync()
    {
        // Off the loop first: the loop never posts to itself (its queue could be full).
        await Task.Yield();
        await context.Distribution.StopAcceptingAsync().ConfigureAwait(false);
        post(new ConnectionsFlushed());
    }

    /// <summary>
    /// While flushing, connections the primary holds need a worker that is up or coming: in a respawn gap, or after the
    /// last worker died, one starts now (a spare is promoted first), backoff or not, since the stop waits for them.
    /// </summary>
    private void ServeHeldConnections()
    {
        if (_phase != Phase.Flushing
            || context.Distribution.Queued == 0
            || context.Workers.All.Any(worker => worker.State is WorkerState.Starting or WorkerState.Online or WorkerState.Ready)
            || pool.PromoteSpare(evenWhileStopping: true))
        {
            return;
        }

        SupervisorLog.StartingWorkerForHeldConnections(context.Logger, context.Distribution.Queued);
        operations.TryFork();
    }

    private void CompleteIfNoneLeft()
    {
        if (_phase is Phase.Draining or Phase.Killing && context.Workers.Count == 0)
        {
            Complete();
        }
    }

    private void Complete()
    {
        if (_done.TrySetResult(!_timedOut))
        {
            SupervisorLog.AllExited(context.Logger, Environment.ProcessId);
        }
    }
}
