using System.ComponentModel;
using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;
using ProcessCluster.Policies;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Primary;

/// <summary>
/// The supervisor's replacements: the health probe (hung and never-ready workers killed, recycling queued), and every
/// surge-then-drain replacement, whether recycling or a rolling reload.
/// </summary>
internal sealed partial class Supervisor
{
    private void OnSuccessorFailed(WorkerHandle successor, Replacement step)
    {
        var message = $"{successor} did not become ready ({successor.ExitStatus}, {successor.StopReason?.Describe()}); worker {step.OldWorkerId} keeps serving";
        if (step.Reason == StopReason.Reload)
        {
            AbortReload(message);
        }
        else
        {
            // Do not retry at once: whatever broke the successor is likely to break the next one.
            _recyclingHeldUntil = Now + _options.RecycleMinLifetime;
            _logger.LogError("Recycling failed: {Message}", message);
        }
    }

    /// <summary>Samples memory and applies the health policy: kill the hung and the never-ready, queue recycling.</summary>
    private void Probe()
    {
        var now = Now;
        foreach (var worker in Workers)
        {
            if (worker.State is WorkerState.Ready or WorkerState.Draining)
            {
                worker.ResidentBytes = ProcFs.ResidentBytes(worker.ProcessId) ?? worker.ResidentBytes;
                if (ProcFs.CpuTime(worker.ProcessId) is { } cpu)
                {
                    worker.RecordCpu(cpu, now);
                }
            }

            if (worker.Terminated)
            {
                continue;
            }

            var verdict = _healthPolicy.Decide(
                new WorkerObservation(worker.State, worker.ForkedAt, worker.ReadyAt, worker.LastHeartbeatAt, worker.Requests, worker.RequestLimit, worker.ResidentBytes),
                now);
            switch (verdict)
            {
                case HealthVerdict.Hung:
                    _logger.LogError(
                        "Worker {Id} (pid {Pid}) is hung: no heartbeat for {Seconds:0.0} s; killing it",
                        worker.Id, worker.ProcessId, (now - worker.LastHeartbeatAt!.Value).TotalSeconds);
                    Terminate(worker, StopReason.Hung);
                    break;
                case HealthVerdict.NotReadyInTime:
                    _logger.LogError("{Worker} did not start listening within {Timeout} s; killing it", worker, _options.ReadyTimeout.TotalSeconds);
                    Terminate(worker, StopReason.NotReadyInTime);
                    break;
                case HealthVerdict.RecycleForMemory or HealthVerdict.RecycleForRequests or HealthVerdict.RecycleForLifetime:
                    QueueRecycling(worker, verdict, now);
                    break;
            }
        }

        AdvanceReplacements();
    }

    private void QueueRecycling(WorkerHandle worker, HealthVerdict verdict, DateTimeOffset now)
    {
        if (_stopping || _gaveUp || now < _recyclingHeldUntil || _replacements.Contains(worker.Id))
        {
            return;
        }

        var reason = verdict switch
        {
            HealthVerdict.RecycleForMemory => StopReason.RecycledForMemory,
            HealthVerdict.RecycleForRequests => StopReason.RecycledForRequests,
            _ => StopReason.RecycledForLifetime,
        };
        _logger.LogInformation(
            "{Worker} will be {Reason}: {Requests} requests, {Memory} MiB, up {Age:0} s",
            worker, reason.Describe(), worker.Requests, worker.ResidentBytes / (1024 * 1024), (now - worker.ForkedAt).TotalSeconds);
        _replacements.Enqueue(worker.Id, reason);
    }

    /// <summary>Starts successors for the next replacements; a reload runs several at once if configured, recycling one.</summary>
    private void AdvanceReplacements()
    {
        if (_stopping || _gaveUp)
        {
            return;
        }

        _replacements.CancelWaiting(step => Find(step.OldWorkerId) is not { State: WorkerState.Ready });
        var concurrency = _reload is null ? 1 : _options.ReloadConcurrency;
        foreach (var step in _replacements.TakeNext(concurrency))
        {
            try
            {
                var successor = Fork(null);
                _replacements.SuccessorStarted(step.OldWorkerId, successor.Id);
                _logger.LogInformation("Starting worker {Successor} to replace worker {Old} ({Reason})", successor.Id, step.OldWorkerId, step.Reason.Describe());
            }
            catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
            {
                _replacements.WorkerExited(step.OldWorkerId);
                _logger.LogError("Could not start a successor for worker {Old}: {Reason}", step.OldWorkerId, error.Message);
            }
        }
    }

    private void StartReload(TaskCompletionSource<ReloadResult> done)
    {
        if (_stopping)
        {
            done.TrySetResult(new ReloadResult(false, 0, "the cluster is stopping"));
            return;
        }

        if (_reload is not null)
        {
            _reload.Waiters.Add(done);
            return;
        }

        // A reload is the operator's "try again": a crash loop's verdict is lifted, and missing workers are started.
        _gaveUp = false;
        _restartHistory = RestartHistory.Empty;
        var serving = Workers.Where(worker => worker.State == WorkerState.Ready).ToList();
        _reload = new ReloadRun(Now, serving.Count, [done]);
        _logger.LogInformation("Rolling reload of {Count} workers started, {Concurrency} at a time", serving.Count, _options.ReloadConcurrency);
        EventLog.Add(ClusterEventKind.Reload, $"rolling reload of {serving.Count} workers started");
        serving.ForEach(worker => _replacements.Enqueue(worker.Id, StopReason.Reload));
        // Spares serve nothing: they leave at once, and their successors start from the binary on disk.
        foreach (var spare in Workers.Where(worker => worker.State == WorkerState.Spare))
        {
            Drain(spare, StopReason.Reload);
        }

        var missing = _desiredWorkers - Workers.Count(worker => worker.State != WorkerState.Draining);
        for (var i = 0; i < missing; i++)
        {
            TryFork();
        }

        AdvanceReplacements();
        CompleteReloadIfDone();
    }

    private void CompleteReloadIfDone()
    {
        if (_reload is not { } reload || _replacements.Any(step => step.Reason == StopReason.Reload))
        {
            return;
        }

        var elapsed = (Now - reload.StartedAt).TotalSeconds;
        _logger.LogInformation("Rolling reload finished: {Replaced} of {Total} workers replaced in {Seconds:0.0} s", reload.Replaced, reload.Total, elapsed);
        FinishReload(new ReloadResult(true, reload.Replaced, $"{reload.Replaced} of {reload.Total} workers replaced in {elapsed:0.0} s"));
    }

    private void AbortReload(string reason)
    {
        if (_reload is not { } reload)
        {
            return;
        }

        var kept = _replacements.CancelWaiting(step => step.Reason == StopReason.Reload).Count;
        _logger.LogError("Rolling reload aborted after replacing {Replaced} workers: {Reason}; {Kept} old workers keep serving", reload.Replaced, reason, kept);
        FinishReload(new ReloadResult(false, reload.Replaced, reason));
    }

    private void FinishReload(ReloadResult result)
    {
        EventLog.Add(ClusterEventKind.Reload, result.Succeeded ? $"rolling reload finished: {result.Message}" : $"rolling reload aborted: {result.Message}");
        var waiters = _reload!.Waiters;
        _reload = null;
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
