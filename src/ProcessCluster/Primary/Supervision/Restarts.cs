using ProcessCluster.Policies;

namespace ProcessCluster.Primary;

/// <summary>
/// Exits that were not asked for: whether and when a replacement starts (at once for a worker that served, after the
/// restart policy's backoff for an early death), and when to give up because workers die in a loop.
/// </summary>
internal sealed class Restarts(SupervisorContext context, WorkerOperations operations)
{
    private readonly RestartPolicy _policy = RestartPolicy.From(context.Options);
    private RestartHistory _history = RestartHistory.Empty;
    private long _count;

    /// <summary>Replacements started for workers that died unasked or were replaced, since the primary started.</summary>
    public long Count => _count;

    /// <summary>Respawns decided and not started yet (waiting out their backoff): places the pool counts as filled.</summary>
    public int Pending { get; private set; }

    /// <summary>
    /// Decides what follows an exit. Returns the delay before its replacement starts, or null when none will: a planned
    /// stop, a failed successor or an old worker whose successor is on its way, a stopping cluster, a crash loop.
    /// </summary>
    public TimeSpan? WorkerExited(WorkerHandle worker, ReplacementOutcome? replacement, out string? crashLoop)
    {
        crashLoop = null;
        if (worker.StopRequested)
        {
            return null;
        }

        var death = new WorkerDeath(context.Now - worker.ForkedAt, worker.ReadyAt is not null);
        var decision = _policy.Decide(_history, death, context.Now);
        _history = decision.History;
        if (decision.GiveUp && !context.Stopping && !context.GaveUp)
        {
            context.GaveUp = true;
            crashLoop = $"more than {context.Options.CrashLoopLimit} workers died before they were ready or within {context.Options.MinUptime.TotalSeconds} s "
                + $"of starting, in {context.Options.CrashLoopWindow.TotalSeconds} s";
            return null;
        }

        if (context.Stopping || context.GaveUp || replacement is not (null or ReplacementOutcome.Completed))
        {
            return null;
        }

        _count++;
        Pending++;
        context.PostAfter(new RespawnDue(worker.Restarts + 1), decision.Delay);
        return decision.Delay;
    }

    /// <summary>A backoff ran out: the replacement starts, unless the cluster stopped or gave up meanwhile.</summary>
    public void RespawnDue(int restarts)
    {
        Pending--;
        if (!context.Stopping && !context.GaveUp)
        {
            operations.TryFork(restarts);
        }
    }

    /// <summary>A reload is the operator's "try again": a crash loop's verdict is lifted.</summary>
    public void Forgive()
    {
        context.GaveUp = false;
        _history = RestartHistory.Empty;
    }
}
