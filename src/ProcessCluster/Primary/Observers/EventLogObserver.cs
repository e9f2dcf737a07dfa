using ProcessCluster.Telemetry;

namespace ProcessCluster.Primary;

/// <summary>The facts people watching the cluster see in `status` and on the dashboard.</summary>
internal sealed class EventLogObserver(ClusterEventLog log, TimeProvider clock) : IClusterObserver
{
    public void Forked(WorkerHandle worker) => log.Add(ClusterEventKind.Forked, $"worker {worker.Id} forked from {worker.Release}", worker.Id, worker.ProcessId);

    public void Ready(WorkerHandle worker, ReadyRole role) => log.Add(
        ClusterEventKind.Ready,
        role switch
        {
            ReadyRole.PromotedFromSpare => $"worker {worker.Id} promoted from warm spare to serving",
            _ => $"worker {worker.Id} ready{(role == ReadyRole.Spare ? " as a warm spare" : "")}, {((worker.ReadyAt ?? clock.GetUtcNow()) - worker.ForkedAt).TotalMilliseconds:0} ms after its fork",
        },
        worker.Id,
        worker.ProcessId);

    public void Exited(WorkerHandle worker, ExitStatus status, TimeSpan? restartIn, bool replaced)
    {
        var (reason, next) = ExitText.Of(worker, restartIn);
        log.Add(ClusterEventKind.Exited, $"worker {worker.Id} {status.Describe()}{reason}{next}", worker.Id, worker.ProcessId);
    }

    public void Scaled(int from, int to, string why) => log.Add(ClusterEventKind.Scaled, $"{from} → {to} workers: {why}");

    public void ReloadStarted(int workers, int concurrency) => log.Add(ClusterEventKind.Reload, $"rolling reload of {workers} workers started");

    public void ReloadFinished(ReloadResult result) =>
        log.Add(ClusterEventKind.Reload, result.Succeeded ? $"rolling reload finished: {result.Message}" : $"rolling reload aborted: {result.Message}");

    public void CrashLoop(string reason, bool everReady, int serving) => log.Add(ClusterEventKind.CrashLoop, $"crash loop: {reason}; restarts stopped");
}
