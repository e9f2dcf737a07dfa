using ProcessCluster.Control;
using ProcessCluster.Policies;

namespace ProcessCluster.Primary;

/// <summary>
/// How many workers, and which: every probe (and load step) the scaling policy turns the workers' busy fractions, the
/// primary's queue and free memory into a desired count; the pool then fills serving places from the spares, starts
/// what is missing, or drains one surplus worker at a time, the youngest idle one.
/// </summary>
internal sealed class PoolSizer(SupervisorContext context, WorkerOperations operations, Restarts restarts, Replacements replacements, Health health)
{
    private readonly ScalingPolicy _policy = ScalingPolicy.From(context.Options);
    private ScalingPolicy? _manualBounds;
    private ScalingState? _state;
    private bool _sized;

    /// <summary>The worker count the cluster aims for now.</summary>
    public int Desired { get; private set; } = context.Options.InitialWorkers;

    public bool Autoscaling { get; private set; } = context.Options.Autoscaling;

    /// <summary>The bounds in force: the configured or set ones, or the fixed count.</summary>
    public (int Min, int Max) Bounds => Autoscaling || _sized
        ? ((_manualBounds ?? _policy).Min, (_manualBounds ?? _policy).Max)
        : (Desired, Desired);

    public string Describe() => Autoscaling
        ? $"{Desired} workers (autoscaling {context.Options.MinWorkers}..{context.Options.MaxWorkers})"
        : $"{Desired} workers";

    /// <summary>Changes the bounds at runtime; min = max fixes the count.</summary>
    public void SetBounds(int min, int max)
    {
        _manualBounds = _policy with { Min = min, Max = max };
        Autoscaling = min < max;
        _sized = true;
        _state = null;
        SupervisorLog.BoundsSet(context.Logger, min, max);
        ChangeDesired(Math.Clamp(Desired, min, max), $"bounds set to {min}..{max}");
        Scale("the bounds set");
    }

    /// <summary>Fixes the count at the desired count plus <paramref name="change"/>, as of now.</summary>
    public void ScaleBy(int change)
    {
        var count = Math.Clamp(Desired + change, 1, ScaleTarget.Limit);
        SetBounds(count, count);
    }

    /// <summary>
    /// Asks the scaling policy for the desired count (when autoscaling) and starts or drains workers to match.
    /// <paramref name="trigger"/> says what asked (a worker's load report, the probe tick, a connection waiting), for the log.
    /// <paramref name="connectionWaits"/>: the distribution said a connection waits that no worker can take, though the
    /// primary may hold none itself (Shared: it waits in the socket's queue).
    /// </summary>
    public void Scale(string trigger, bool connectionWaits = false)
    {
        if (context.Stopping || context.GaveUp || !(Autoscaling || _sized || context.Options.WarmSpares > 0))
        {
            return;
        }

        var now = context.Now;
        var workers = context.Workers.All;
        // A successor surging in for a reload or recycling stands in for its old worker: one place, not two. A worker
        // killed unasked (hung) keeps its place until it exits, when Restarts replaces it: else both would, and the
        // surplus would drain a healthy worker.
        var live = workers.Count(worker => worker.State is not (WorkerState.Draining or WorkerState.Dead) || worker is { View.Terminated: true, StopRequested: false })
            + restarts.Pending - replacements.Surging;
        if (Autoscaling)
        {
            var measured = workers
                .Where(worker => worker is { State: WorkerState.Ready, BusyFraction: not null } && now - worker.ReadyAt >= context.Options.ScaleWarmUp)
                .Select(worker => new WorkerLoad(worker.BusyFraction!.Value, worker.RequestsInFlight))
                .ToList();
            // Spares are reserve, not serving capacity.
            var queued = Math.Max(context.Distribution.Queued, connectionWaits ? 1 : 0);
            var observation = new ScalingObservation(live - context.Options.WarmSpares, measured, queued, health.AvailableMemoryBytes);
            var decision = (_manualBounds ?? _policy).Decide(_state ?? ScalingState.Start(now), observation, now);
            _state = decision.State;
            SupervisorLog.ScalingDecided(context.Logger, live, decision.Why, decision.Desired, trigger);
            // CPU is context for the reader, not an input: an I/O-bound worker is busy without burning CPU.
            var cpu = context.Workers.In(WorkerState.Ready).Select(worker => worker.CpuPercent ?? 0).DefaultIfEmpty().Average();
            ChangeDesired(decision.Desired, $"{decision.Why}, CPU {cpu:0}% per worker; on {trigger}");
        }

        Reconcile(live);
    }

    /// <summary>A worker that comes up now is kept in reserve when the serving places are full and a spare is missing.</summary>
    public bool KeepsAsSpare() =>
        context.Options.WarmSpares > 0
        && context.Workers.CountIn(WorkerState.Ready) >= Desired
        && context.Workers.CountIn(WorkerState.Spare) < context.Options.WarmSpares;

    /// <summary>
    /// A serving place is empty (a worker died or was killed): a spare takes it now, not after a restart. Also while
    /// the cluster stops, when connections the primary holds have no worker to go to.
    /// </summary>
    public bool PromoteSpare(bool evenWhileStopping = false)
    {
        if ((context.Stopping && !evenWhileStopping)
            || context.Workers.In(WorkerState.Spare).FirstOrDefault() is not { Channel: { } channel } spare
            || !WorkerTable.Move(spare, WorkerTrigger.Promote))
        {
            return false;
        }

        WorkerTable.Update(spare, view => view with { ReadyAt = context.Now });
        context.Distribution.AddWorker(spare.Id, channel);
        context.Observer.Ready(spare, ReadyRole.PromotedFromSpare);
        return true;
    }

    public void PromoteSpares()
    {
        while (context.Workers.CountIn(WorkerState.Ready) < Desired && PromoteSpare())
        {
        }
    }

    private void ChangeDesired(int desired, string why)
    {
        var from = Desired;
        if (desired != from)
        {
            Desired = desired;
            context.Observer.Scaled(from, desired, why);
        }
    }

    /// <summary>Fills serving places from the spares first, starts the missing workers (serving and spare), or drains one surplus worker.</summary>
    private void Reconcile(int live)
    {
        PromoteSpares();
        var wanted = Desired + context.Options.WarmSpares;
        for (var i = live; i < wanted; i++)
        {
            operations.TryFork();
        }

        if (live <= wanted || context.Workers.All.Any(worker => worker is { StopReason: StopReason.ScaledDown, IsDead: false }))
        {
            return;
        }

        var victim = context.Workers.In(WorkerState.Ready)
            .Where(worker => !replacements.Contains(worker.Id))
            .OrderBy(worker => worker.RequestsInFlight)
            .ThenByDescending(worker => worker.ForkedAt)
            .ThenByDescending(worker => worker.Id)
            .FirstOrDefault();
        if (victim is not null)
        {
            SupervisorLog.ScalingDown(context.Logger, victim, victim.RequestsInFlight);
            operations.Drain(victim, StopReason.ScaledDown);
        }
    }
}
