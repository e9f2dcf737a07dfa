using Microsoft.Extensions.Logging;

namespace ProcessCluster.Primary;

/// <summary>Every line the supervisor logs, with its event id (as Kestrel's SocketsLog).</summary>
internal static partial class SupervisorLog
{
    [LoggerMessage(1, LogLevel.Information, "Primary {Pid} initialising cluster: {Workers}, {Scheduling} scheduling, listening on {Urls}")]
    public static partial void Started(ILogger logger, int pid, string workers, SchedulingMode scheduling, string urls);

    [LoggerMessage(2, LogLevel.Debug, "Forked {Worker}")]
    public static partial void Forked(ILogger logger, WorkerHandle worker);

    [LoggerMessage(3, LogLevel.Information, "Worker {Id} (pid {Pid}) started on {Addresses}{Role}")]
    public static partial void Ready(ILogger logger, int id, int pid, string addresses, string role);

    [LoggerMessage(4, LogLevel.Information, "Worker {Id} (pid {Pid}) promoted from warm spare to serving")]
    public static partial void Promoted(ILogger logger, int id, int pid);

    [LoggerMessage(EventId = 5, Message = "Worker {Id} (pid {Pid}) {How}{Reason}{Next}")]
    public static partial void Exited(ILogger logger, LogLevel level, int id, int pid, string how, string reason, string next);

    [LoggerMessage(6, LogLevel.Information, "Scaling {From} → {To} workers: {Why}")]
    public static partial void Scaled(ILogger logger, int from, int to, string why);

    [LoggerMessage(7, LogLevel.Information, "Rolling reload of {Count} workers started, {Concurrency} at a time")]
    public static partial void ReloadStarted(ILogger logger, int count, int concurrency);

    [LoggerMessage(8, LogLevel.Information, "Rolling reload finished: {Message}")]
    public static partial void ReloadFinished(ILogger logger, string message);

    [LoggerMessage(9, LogLevel.Error, "Rolling reload aborted after replacing {Replaced} workers: {Reason}; the old workers left keep serving")]
    public static partial void ReloadAborted(ILogger logger, int replaced, string reason);

    [LoggerMessage(10, LogLevel.Critical, "Crash loop: {Reason}, and no worker ever became ready; the cluster cannot run")]
    public static partial void CannotRun(ILogger logger, string reason);

    [LoggerMessage(11, LogLevel.Error, "Crash loop: {Reason}; no more workers will be started until a reload. {Alive} workers keep serving")]
    public static partial void CrashLoop(ILogger logger, string reason, int alive);

    [LoggerMessage(12, LogLevel.Information, "Worker {Id} (pid {Pid}) is ready; draining {Old} ({Reason})")]
    public static partial void SuccessorReady(ILogger logger, int id, int pid, WorkerHandle old, string reason);

    [LoggerMessage(13, LogLevel.Information, "Starting worker {Successor} to replace worker {Old} ({Reason})")]
    public static partial void StartingSuccessor(ILogger logger, int successor, int old, string reason);

    [LoggerMessage(14, LogLevel.Error, "Could not start a worker: {Reason}")]
    public static partial void ForkFailed(ILogger logger, string reason);

    [LoggerMessage(15, LogLevel.Error, "Recycling failed: {Message}")]
    public static partial void RecyclingFailed(ILogger logger, string message);

    [LoggerMessage(16, LogLevel.Information, "{Worker} will be {Reason}: {Requests} requests, {Memory} MiB, up {Age:0} s")]
    public static partial void WillRecycle(ILogger logger, WorkerHandle worker, string reason, long requests, long memory, double age);

    [LoggerMessage(17, LogLevel.Error, "Worker {Id} (pid {Pid}) is hung: no heartbeat for {Seconds:0.0} s; killing it")]
    public static partial void Hung(ILogger logger, int id, int pid, double seconds);

    [LoggerMessage(18, LogLevel.Error, "{Worker} did not start listening within {Timeout} s; killing it")]
    public static partial void NotReadyInTime(ILogger logger, WorkerHandle worker, double timeout);

    [LoggerMessage(19, LogLevel.Warning, "{Worker} {Why}; killing it")]
    public static partial void KilledLate(ILogger logger, WorkerHandle worker, string why);

    [LoggerMessage(21, LogLevel.Information, "Worker bounds set to {Min}..{Max}")]
    public static partial void BoundsSet(ILogger logger, int min, int max);

    [LoggerMessage(22, LogLevel.Debug, "Scaling: {Live} live, {Why}: desired {Desired}; on {Trigger}")]
    public static partial void ScalingDecided(ILogger logger, int live, string why, int desired, string trigger);

    [LoggerMessage(23, LogLevel.Information, "Draining {Worker} to scale down ({InFlight} requests in flight at its last report)")]
    public static partial void ScalingDown(ILogger logger, WorkerHandle worker, int inFlight);

    [LoggerMessage(24, LogLevel.Information, "Asking {Worker} to shed {Shed} of its {Open} connections, to spread them over {Count} workers")]
    public static partial void Shedding(ILogger logger, WorkerHandle worker, int shed, int open, int count);

    [LoggerMessage(25, LogLevel.Warning, "No worker took the connections the primary still held; they are closed")]
    public static partial void HeldConnectionsClosed(ILogger logger);

    [LoggerMessage(27, LogLevel.Warning, "Fast stop: killing {Count} workers without draining")]
    public static partial void FastStop(ILogger logger, int count);

    [LoggerMessage(28, LogLevel.Information, "All workers have exited; primary {Pid} stops")]
    public static partial void AllExited(ILogger logger, int pid);

    [LoggerMessage(35, LogLevel.Error, "Refused {Worker}: {Reason}")]
    public static partial void IncompatibleWorker(ILogger logger, WorkerHandle worker, string reason);

    [LoggerMessage(29, LogLevel.Warning, "Refused a channel connection from pid {Pid}: {Reason} ({Suppressed} more refused since the last such line, not logged)")]
    public static partial void ChannelRefused(ILogger logger, int pid, string reason, long suppressed);

    [LoggerMessage(30, LogLevel.Warning, "Dropped the channel of {Worker}: {Reason}")]
    public static partial void ChannelDropped(ILogger logger, WorkerHandle worker, string reason);

    [LoggerMessage(36, LogLevel.Error, "Dropped the channel of {Worker}: its thread failed unexpectedly; the primary carries on")]
    public static partial void ChannelFailed(ILogger logger, Exception error, WorkerHandle worker);

    [LoggerMessage(31, LogLevel.Critical, "The supervisor failed while handling {Event}; the cluster stops, killing its workers")]
    public static partial void LoopFailed(ILogger logger, Exception error, string @event);

    [LoggerMessage(32, LogLevel.Error, "An observer of the cluster failed")]
    public static partial void ObserverFailed(ILogger logger, Exception error);

    [LoggerMessage(33, LogLevel.Warning, "Starting a worker now to serve the {Count} connections the primary holds before it stops")]
    public static partial void StartingWorkerForHeldConnections(ILogger logger, int count);

    [LoggerMessage(35, LogLevel.Error, "{Worker} failed {Failures} health probes of {Path} in a row (last: {Last}); taking it out of dispatch and replacing it")]
    public static partial void Unhealthy(ILogger logger, WorkerHandle worker, int failures, string path, string last);

    [LoggerMessage(34, LogLevel.Debug, "Connections per ready worker: {Connections}")]
    public static partial void ConnectionsPerWorker(ILogger logger, string connections);

    [LoggerMessage(40, LogLevel.Information, "Upgrading in place: the new build passed its check; pausing {Count} workers, then re-executing {Program} as pid {Pid}")]
    public static partial void UpgradeStarting(ILogger logger, int count, string program, int pid);

    [LoggerMessage(41, LogLevel.Warning, "In-place upgrade not done: {Reason}; this primary carries on as it was")]
    public static partial void UpgradeCalledOff(ILogger logger, string reason);

    [LoggerMessage(42, LogLevel.Information, "Upgraded in place (pid {Pid}): adopted {Count} running workers ({Workers})")]
    public static partial void Adopted(ILogger logger, int pid, int count, string workers);

    [LoggerMessage(43, LogLevel.Error, "After the in-place upgrade: {Problem}; the workers left are killed and new ones started")]
    public static partial void HandoverUnreadable(ILogger logger, string problem);

    [LoggerMessage(44, LogLevel.Warning, "Killed {Count} workers of this primary that were not handed over (pids {Pids})")]
    public static partial void KilledStrays(ILogger logger, int count, string pids);

    [LoggerMessage(45, LogLevel.Information, "The code on disk differs from what the adopted workers run; rolling them")]
    public static partial void AdoptedCodeChanged(ILogger logger);

    [LoggerMessage(46, LogLevel.Warning, "Worker {WorkerId} has not read the messages sent to it for {Seconds} s, or let 64 pile up; its channel is dropped")]
    public static partial void MessagesUnread(ILogger logger, int workerId, double seconds);

    [LoggerMessage(47, LogLevel.Warning, "Upgrade not started: upgrade already in progress")]
    public static partial void UpgradeAlreadyInProgress(ILogger logger);
}
