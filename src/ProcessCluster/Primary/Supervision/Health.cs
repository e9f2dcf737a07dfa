using ProcessCluster.Policies;

namespace ProcessCluster.Primary;

/// <summary>
/// What the primary learns of each worker's health: its load reports, and every probe its memory and CPU from /proc,
/// judged by the health policy (the hung and the never-ready are killed, recycling is queued).
/// </summary>
internal sealed class Health(SupervisorContext context, WorkerOperations operations, Replacements replacements, IProcessProbe probe)
{
    private readonly WorkerHealthPolicy _policy = new(context.Options);

    /// <summary>The machine's available memory at the last probe: read once per probe, not per report.</summary>
    public long AvailableMemoryBytes { get; private set; } = long.MaxValue;

    /// <summary>Takes in the worker's newest load report; true when it was a heartbeat (through its thread pool's queue).</summary>
    public bool? TakeLoad(WorkerHandle worker)
    {
        if (worker.TakeLoad() is not var (report, alive))
        {
            return null;
        }

        WorkerTable.Update(worker, view => view.WithLoad(report, alive, context.Now));
        context.Distribution.OnLoadReport(worker.Id, report.InFlight);
        return alive;
    }

    public void Probe()
    {
        var now = context.Now;
        AvailableMemoryBytes = probe.AvailableMemoryBytes() ?? long.MaxValue;
        foreach (var worker in context.Workers.All.ToList())
        {
            if (worker.State is WorkerState.Ready or WorkerState.Draining)
            {
                var rss = probe.ResidentBytes(worker.ProcessId);
                var cpu = probe.CpuTime(worker.ProcessId);
                WorkerTable.Update(worker, view =>
                {
                    var sampled = view with { ResidentBytes = rss ?? view.ResidentBytes };
                    return cpu is { } time ? sampled.WithCpu(time, now) : sampled;
                });
            }

            if (!worker.View.Terminated)
            {
                Judge(worker, now);
            }
        }

        replacements.Advance();
    }

    private void Judge(WorkerHandle worker, DateTimeOffset now)
    {
        var verdict = _policy.Decide(
            new WorkerObservation(worker.State, worker.ForkedAt, worker.ReadyAt, worker.LastHeartbeatAt, worker.Requests, worker.RequestLimit, worker.ResidentBytes),
            now);
        switch (verdict)
        {
            case HealthVerdict.Hung:
                SupervisorLog.Hung(context.Logger, worker.Id, worker.ProcessId, (now - worker.LastHeartbeatAt!.Value).TotalSeconds);
                operations.Terminate(worker, StopReason.Hung);
                break;
            case HealthVerdict.NotReadyInTime:
                SupervisorLog.NotReadyInTime(context.Logger, worker, context.Options.ReadyTimeout.TotalSeconds);
                operations.Terminate(worker, StopReason.NotReadyInTime);
                break;
            case HealthVerdict.RecycleForMemory or HealthVerdict.RecycleForRequests or HealthVerdict.RecycleForLifetime:
                replacements.QueueRecycling(worker, verdict);
                break;
        }
    }
}
