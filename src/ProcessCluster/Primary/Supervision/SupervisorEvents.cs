using System.Text.Json;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary;

/// <summary>Everything the supervisor loop reacts to. Each arrives on its one queue, and the loop handles it alone.</summary>
internal abstract record SupervisorEvent;

// From the app and the operator (API, signals, control socket).

/// <summary>A worker created by <see cref="ClusterPrimary.Fork"/>, to be spawned now.</summary>
internal sealed record ForkRequested(WorkerHandle Worker, IReadOnlyDictionary<string, string>? Environment) : SupervisorEvent;

/// <summary>Stop one worker gracefully, without a replacement (Node's worker.disconnect()).</summary>
internal sealed record WorkerStopRequested(WorkerHandle Worker) : SupervisorEvent;

internal sealed record ReloadRequested(TaskCompletionSource<ReloadResult> Done) : SupervisorEvent;

internal sealed record ScaleRequested(int Min, int Max) : SupervisorEvent;

internal sealed record ScaleByRequested(int Change) : SupervisorEvent;

internal sealed record StopRequested : SupervisorEvent;

internal sealed record FastStopRequested : SupervisorEvent;

/// <summary>Re-execute the primary in place (the new build passed its check): <paramref name="Program"/> with <paramref name="Environment"/>.</summary>
internal sealed record UpgradeRequested(WorkerCommand Program, IReadOnlyList<string> Environment, TaskCompletionSource<UpgradeResult> Done) : SupervisorEvent;

/// <summary>This process was re-executed in place: take over what its previous program handed over.</summary>
internal sealed record AdoptWorkers(UpgradeHandover.Received Handover) : SupervisorEvent;

// From worker processes and their channels.

internal sealed record WorkerExited(WorkerHandle Worker, ExitStatus Status) : SupervisorEvent;

/// <summary>A process said hello on the channel socket; the loop decides which worker, if any, it is.</summary>
internal sealed record ChannelOpened(int Pid, HelloMessage Hello, IpcChannel Channel, TaskCompletionSource<WorkerHandle?> Claim) : SupervisorEvent;

/// <summary>The claimed worker has its welcome (Node's 'online').</summary>
internal sealed record ChannelConnected(WorkerHandle Worker) : SupervisorEvent;

internal sealed record ChannelListening(WorkerHandle Worker, IReadOnlyList<string> Addresses) : SupervisorEvent;

/// <summary>The worker's newest load report waits in its slot (<see cref="WorkerHandle.TakeLoad"/>).</summary>
internal sealed record LoadReported(WorkerHandle Worker) : SupervisorEvent;

/// <summary>The worker's answer to the health probe awaited (<see cref="WorkerHandle.TakeProbeAnswer"/>): an HTTP status, 0 for none.</summary>
internal sealed record HealthAnswered(WorkerHandle Worker, long ProbeId, int Status) : SupervisorEvent;

internal sealed record ChannelMessage(WorkerHandle Worker, JsonElement Message) : SupervisorEvent;

/// <summary>The worker's app is shutting down by itself.</summary>
internal sealed record ChannelStopping(WorkerHandle Worker) : SupervisorEvent;

internal sealed record ChannelClosed(WorkerHandle Worker) : SupervisorEvent;

/// <summary>The worker answered Pause: it sends nothing more until Resume, and its channel is no longer read.</summary>
internal sealed record WorkerPaused(WorkerHandle Worker) : SupervisorEvent;

/// <summary>The dispatcher dropped a worker that stopped reading its channel; what it holds waits for its exit.</summary>
internal sealed record WorkerUnresponsive(int WorkerId) : SupervisorEvent;

/// <summary>Connections wait in the primary (RoundRobin) or in the listening socket's queue (Shared) and no worker takes them: scaled to zero, or overloaded.</summary>
internal sealed record ConnectionsWaiting : SupervisorEvent;

/// <summary>Every connection the primary held during a stop has gone to a worker.</summary>
internal sealed record ConnectionsFlushed : SupervisorEvent;

// Timers.

internal sealed record ProbeDue : SupervisorEvent;

internal sealed record RespawnDue(int Restarts) : SupervisorEvent;

internal sealed record DrainDeadline(WorkerHandle Worker) : SupervisorEvent;

/// <summary>A worker whose channel closed should have exited by now.</summary>
internal sealed record OrphanDeadline(WorkerHandle Worker) : SupervisorEvent;

internal sealed record StopDeadline : SupervisorEvent;

/// <summary>An in-place upgrade looks whether it can go on (connections flushed, workers paused) or has run out of time.</summary>
internal sealed record UpgradeStep : SupervisorEvent;

/// <summary>The loop's first event: the initial workers start.</summary>
internal sealed record StartWorkers : SupervisorEvent;
