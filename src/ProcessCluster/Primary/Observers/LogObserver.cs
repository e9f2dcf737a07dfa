using Microsoft.Extensions.Logging;

namespace ProcessCluster.Primary;

/// <summary>The facts as log lines.</summary>
internal sealed class LogObserver(ILogger logger, TimeProvider clock) : IClusterObserver
{
    private readonly RefusalLog _refusals = new(logger, clock);

    public void Forked(WorkerHandle worker) => SupervisorLog.Forked(logger, worker);

    public void Ready(WorkerHandle worker, ReadyRole role)
    {
        if (role == ReadyRole.PromotedFromSpare)
        {
            SupervisorLog.Promoted(logger, worker.Id, worker.ProcessId);
        }
        else
        {
            SupervisorLog.Ready(logger, worker.Id, worker.ProcessId, string.Join(", ", worker.ListeningAddresses), role == ReadyRole.Spare ? ", kept as a warm spare" : "");
        }
    }

    public void Exited(WorkerHandle worker, ExitStatus status, TimeSpan? restartIn, bool replaced)
    {
        var (reason, next) = ExitText.Of(worker, restartIn);
        SupervisorLog.Exited(logger, worker.StopRequested ? LogLevel.Information : LogLevel.Warning, worker.Id, worker.ProcessId, status.Describe(), reason, next);
    }

    public void Scaled(int from, int to, string why) => SupervisorLog.Scaled(logger, from, to, why);

    public void ReloadStarted(int workers, int concurrency) => SupervisorLog.ReloadStarted(logger, workers, concurrency);

    public void ReloadFinished(ReloadResult result)
    {
        if (result.Succeeded)
        {
            SupervisorLog.ReloadFinished(logger, result.Message);
        }
        else
        {
            SupervisorLog.ReloadAborted(logger, result.Replaced, result.Message);
        }
    }

    public void CrashLoop(string reason, bool everReady, int serving)
    {
        if (everReady)
        {
            SupervisorLog.CrashLoop(logger, reason, serving);
        }
        else
        {
            SupervisorLog.CannotRun(logger, reason);
        }
    }

    public void ChannelRefused(int pid, string reason) => _refusals.Refused(pid, reason);
}
