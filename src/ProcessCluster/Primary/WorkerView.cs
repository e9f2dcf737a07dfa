using ProcessCluster.Ipc;

namespace ProcessCluster.Primary;

/// <summary>
/// One worker's state at one moment, immutable. The supervisor loop, its only writer, replaces a worker's view as a
/// whole; any other thread reads a consistent one through a single reference (no torn <c>double?</c> or dates).
/// </summary>
internal sealed record WorkerView(int ProcessId, DateTimeOffset ForkedAt)
{
    public WorkerState State { get; init; } = WorkerState.Starting;

    public DateTimeOffset? ReadyAt { get; init; }

    /// <summary>The channel protocol and the ProcessCluster version the worker said it was built with, once it connected.</summary>
    public (int Protocol, string? Library)? Build { get; init; }

    /// <summary>The directory the worker was started in, symlinks resolved at its fork (a release layout's releases/v2).</summary>
    public string? Release { get; init; }

    public IReadOnlyList<string> ListeningAddresses { get; init; } = [];

    /// <summary>The fingerprint of the code it was started from (<see cref="CodeStamp"/>).</summary>
    public string? Code { get; init; }

    public ExitStatus? ExitStatus { get; init; }

    public StopReason? StopReason { get; init; }

    public DateTimeOffset? LastHeartbeatAt { get; init; }

    public DateTimeOffset? LastReportAt { get; init; }

    /// <summary>The last load report taken in.</summary>
    public WorkerLoadReport? Load { get; init; }

    public double? BusyFraction { get; init; }

    public long ResidentBytes { get; init; }

    /// <summary>The last CPU time sample from /proc, and when it was taken.</summary>
    public (TimeSpan Cpu, DateTimeOffset At)? CpuSample { get; init; }

    public double? CpuPercent { get; init; }

    /// <summary>Connections the primary handed it, as last counted when it left dispatch.</summary>
    public long DispatchedWhenRetired { get; init; }

    public DateTimeOffset ShedAskedAt { get; init; }

    /// <summary>SIGKILL sent by the supervisor (hung, not ready in time); it only awaits the reaper.</summary>
    public bool Terminated { get; init; }

    /// <summary>
    /// The report the next busy fraction is measured from. It moves on only once a sample is long enough, so a report
    /// sent on a change, a few milliseconds after the last one, cannot pass one short stretch off as a whole fraction.
    /// </summary>
    public WorkerLoadReport? BusyBaseline { get; init; }

    /// <summary>The shortest sample a busy fraction is measured over (load reports come every 500 ms when the scaler reads them).</summary>
    public const long MinBusySampleMicroseconds = 400_000;

    /// <summary>This view with a load report taken in: counters, busy fraction over the sample it completes, alive if a heartbeat.</summary>
    public WorkerView WithLoad(WorkerLoadReport report, bool alive, DateTimeOffset now)
    {
        var sampled = BusyBaseline is { } from && report.ClockMicroseconds - from.ClockMicroseconds >= MinBusySampleMicroseconds;
        return this with
        {
            Load = report,
            BusyBaseline = BusyBaseline is null || sampled ? report : BusyBaseline,
            BusyFraction = sampled
                ? Math.Clamp((double)(report.BusyMicroseconds - BusyBaseline!.Value.BusyMicroseconds) / (report.ClockMicroseconds - BusyBaseline.Value.ClockMicroseconds), 0, 1)
                : BusyFraction,
            LastHeartbeatAt = alive ? now : LastHeartbeatAt,
            LastReportAt = now,
        };
    }

    /// <summary>This view with a CPU time sample taken in: CPU in percent of one core since the previous sample.</summary>
    public WorkerView WithCpu(TimeSpan cpu, DateTimeOffset now) => this with
    {
        CpuSample = (cpu, now),
        CpuPercent = CpuSample is { } previous && now > previous.At ? Math.Max(0, 100 * (cpu - previous.Cpu) / (now - previous.At)) : CpuPercent,
    };
}
