using ProcessCluster.Primary;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Control;

/// <summary>The cluster at one moment: what `dotnet cluster status`, GET /api/status and the dashboard show.</summary>
public sealed record ClusterStatus(
    int Pid,
    DateTimeOffset StartedAt,
    double UptimeSeconds,
    SchedulingMode Scheduling,
    DispatchMode Dispatch,
    IReadOnlyList<string> Urls,
    int DesiredWorkers,
    int MinWorkers,
    int MaxWorkers,
    bool Autoscaling,
    int QueuedConnections,
    long Restarts,
    IReadOnlyList<WorkerStatus> Workers,
    IReadOnlyList<ClusterEvent> Events);

/// <summary>One worker in a <see cref="ClusterStatus"/>.</summary>
public sealed record WorkerStatus(
    int Id,
    int Pid,
    WorkerState State,
    double UptimeSeconds,
    int Restarts,
    double? CpuPercent,
    long ResidentBytes,
    long Requests,
    int InFlight,
    double? BusyFraction,
    long Dispatched,
    StopReason? StopReason,
    string? Release,
    string? Library)
{
    internal static WorkerStatus Of(WorkerHandle worker, DateTimeOffset now) => new(
        worker.Id,
        worker.ProcessId,
        worker.State,
        Math.Round((now - worker.ForkedAt).TotalSeconds, 1),
        worker.Restarts,
        worker.CpuPercent is { } cpu ? Math.Round(cpu, 1) : null,
        worker.ResidentBytes,
        worker.Requests,
        worker.RequestsInFlight,
        worker.BusyFraction is { } busy ? Math.Round(busy, 3) : null,
        worker.Dispatched,
        worker.StopReason,
        worker.Release,
        worker.View.Build?.Library);
}
