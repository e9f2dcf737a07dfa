using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;
using ProcessCluster.Policies;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Primary;

/// <summary>
/// The supervisor's sizing: every probe the scaling policy turns the workers' busy fractions, the primary's queue and
/// free memory into a desired count, and the supervisor starts workers or drains one, the youngest idle one, to match.
/// </summary>
internal sealed partial class Supervisor
{
    private readonly ScalingPolicy _scalingPolicy;
    private ScalingPolicy? _manualBounds;
    private ScalingState? _scalingState;
    private bool _autoscaling;
    private bool _sized;
    private int _desiredWorkers;
    private int _respawnsPending;

    /// <summary>The worker count the cluster aims for now.</summary>
    public int DesiredWorkers => Volatile.Read(ref _desiredWorkers);

    /// <summary>Changes the bounds at runtime; min = max fixes the count. Applied on the supervisor loop.</summary>
    public void RequestScale(int min, int max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(min, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, min);
        Post(new ScaleRequested(min, max));
    }

    /// <summary>Fixes the count at the desired count plus <paramref name="change"/>, as of when the loop applies it.</summary>
    public void RequestScaleBy(int change) => Post(new ScaleByRequested(change));

    private string WorkerCountText() => _autoscaling
        ? $"{_desiredWorkers} workers (autoscaling {_options.MinWorkers}..{_options.MaxWorkers})"
        : $"{_desiredWorkers} workers";

    private void SetWorkerBounds(int min, int max)
    {
        _manualBounds = _scalingPolicy with { Min = min, Max = max };
        _autoscaling = min < max;
        _sized = true;
        _scalingState = null;
        var desired = Math.Clamp(_desiredWorkers, min, max);
        _logger.LogInformation("Worker bounds set to {Min}..{Max}", min, max);
        ChangeDesired(desired, $"bounds set to {min}..{max}");
    }

    /// <summary>Asks the scaling policy for the desired count (when autoscaling) and starts or drains workers to match.</summary>
    private void Scale()
    {
        if (_stopping || _gaveUp || !(_autoscaling || _sized || _options.WarmSpares > 0))
        {
            return;
        }

        var now = Now;
        // A successor surging in for a reload or recycling stands in for its old worker: one place, not two.
        var surging = _replacements.Entries.Count(step => step.Phase == ReplacementPhase.StartingSuccessor);
        var live = Workers.Count(worker => worker.State is not (WorkerState.Draining or WorkerState.Dead)) + _respawnsPending - surging;
        if (_autoscaling)
        {
            var measured = Workers
                .Where(worker => worker is { State: WorkerState.Ready, BusyFraction: not null } && now - worker.ReadyAt >= _options.ScaleWarmUp)
                .Select(worker => worker.BusyFraction!.Value)
                .ToList();
            // Spares are reserve, not serving capacity.
            var observation = new ScalingObservation(live - _options.WarmSpares, measured, _dispatcher?.Queued ?? 0, ProcFs.AvailableMemoryBytes() ?? long.MaxValue);
            var decision = (_manualBounds ?? _scalingPolicy).Decide(_scalingState ?? ScalingState.Start(now), observation, now);
            _scalingState = decision.State;
            _logger.LogDebug("Scaling: {Live} live, {Why}: desired {Desired}", live, decision.Why, decision.Desired);
            // CPU is context for the reader, not an input: an I/O-bound worker is busy without burning CPU.
            var cpu = Workers.Where(worker => worker.State == WorkerState.Ready).Select(worker => worker.CpuPercent ?? 0).DefaultIfEmpty().Average();
            ChangeDesired(decision.Desired, $"{decision.Why}, CPU {cpu:0}% per worker");
        }

        Reconcile(live);
    }

    private void ChangeDesired(int desired, string why)
    {
        var from = _desiredWorkers;
        if (desired == from)
        {
            return;
        }

        Volatile.Write(ref _desiredWorkers, desired);
        _logger.LogInformation("Scaling {From} → {To} workers: {Why}", from, desired, why);
        EventLog.Add(ClusterEventKind.Scaled, $"{from} → {desired} workers: {why}");
        _metrics?.Scaled(from, desired);
        _events.OnScaled(from, desired, why);
    }

    /// <summary>
    /// RoundRobin: asks workers holding clearly more than their share of connections to shed the surplus, so that
    /// keep-alive clients reach new workers too. One request at a time per worker, a few reports apart, so a worker's
    /// next report shows the effect before it is asked again.
    /// </summary>
    private void Rebalance()
    {
        if (_dispatcher is null || _stopping)
        {
            return;
        }

        var now = Now;
        var ready = Workers.Where(worker => worker.State == WorkerState.Ready && worker.LastReportAt > worker.ReadyAt).ToList();
        var shed = RebalancePolicy.Shed(ready.Select(worker => worker.OpenConnections).ToList());
        _logger.LogDebug("Connections per ready worker: {Connections}", string.Join(", ", ready.Select(worker => $"{worker.Id}: {worker.OpenConnections}")));
        for (var i = 0; i < ready.Count; i++)
        {
            var worker = ready[i];
            if (shed[i] == 0 || now - worker.ShedAskedAt < 3 * LoadReportInterval || worker.Channel is not { } channel)
            {
                continue;
            }

            _logger.LogInformation("Asking {Worker} to shed {Shed} of its {Open} connections, to spread them over {Count} workers", worker, shed[i], worker.OpenConnections, ready.Count);
            worker.ShedAskedAt = now;
            _dispatcher.Shedding(worker.Id, shed[i], 2 * LoadReportInterval);
            try
            {
                channel.Send(FrameType.Shed, FrameFormat.WriteShed(shed[i]));
            }
            catch (Exception error) when (error is System.ComponentModel.Win32Exception or ObjectDisposedException)
            {
                // Its channel is closing; the worker is on its way out anyway.
            }
        }
    }

    /// <summary>
    /// Fills serving places from the spares first, starts the missing workers (serving and spare), or drains one surplus
    /// worker at a time: the youngest idle one.
    /// </summary>
    private void Reconcile(int live)
    {
        PromoteSpares();
        var wanted = _desiredWorkers + _options.WarmSpares;
        for (var i = live; i < wanted; i++)
        {
            TryFork();
        }

        if (live <= wanted || Workers.Any(worker => worker is { StopReason: StopReason.ScaledDown, IsDead: false }))
        {
            return;
        }

        var victim = Workers
            .Where(worker => worker.State == WorkerState.Ready && !_replacements.Contains(worker.Id))
            .OrderBy(worker => worker.RequestsInFlight)
            .ThenByDescending(worker => worker.ForkedAt)
            .FirstOrDefault();
        if (victim is not null)
        {
            _logger.LogInformation("Draining {Worker} to scale down ({InFlight} requests in flight at its last report)", victim, victim.RequestsInFlight);
            Drain(victim, StopReason.ScaledDown);
        }
    }

    /// <summary>A worker that comes up now is kept in reserve when the serving places are full and a spare is missing.</summary>
    private bool KeepsAsSpare() =>
        _options.WarmSpares > 0
        && CountIn(WorkerState.Ready) >= _desiredWorkers
        && CountIn(WorkerState.Spare) < _options.WarmSpares;

    /// <summary>A serving place is empty (a worker died or was killed): a spare takes it now, not after a restart.</summary>
    private void PromoteSpares()
    {
        while (!_stopping
            && CountIn(WorkerState.Ready) < _desiredWorkers
            && Workers.FirstOrDefault(worker => worker.State == WorkerState.Spare) is { Channel: { } channel } spare
            && Move(spare, WorkerTrigger.Promote))
        {
            spare.ReadyAt = Now;
            _dispatcher?.AddWorker(spare.Id, channel);
            _logger.LogInformation("Worker {Id} (pid {Pid}) promoted from warm spare to serving", spare.Id, spare.ProcessId);
            EventLog.Add(ClusterEventKind.Ready, $"worker {spare.Id} promoted from warm spare to serving", spare.Id, spare.ProcessId);
        }
    }
}
