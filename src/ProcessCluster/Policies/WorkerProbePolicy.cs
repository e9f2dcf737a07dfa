namespace ProcessCluster.Policies;

/// <summary>
/// One worker's application health probes so far: the probe awaiting an answer (its id and when it went), when the
/// last one went, and the failures in a row.
/// </summary>
internal readonly record struct WorkerProbeState(long LastId, DateTimeOffset? PendingSince, DateTimeOffset? LastSentAt, int Failures)
{
    public static WorkerProbeState None => default;
}

internal enum ProbeAction
{
    None,

    /// <summary>Send probe <see cref="WorkerProbeState.LastId"/> now.</summary>
    Send,

    /// <summary>Failures in a row reached the limit: out of dispatch, replaced, reason health.</summary>
    Unhealthy,
}

/// <summary>
/// The worker health probe (Cluster:WorkerHealthPath) as pure decisions on a clock: every
/// <see cref="ClusterOptions.WorkerHealthInterval"/> a probe goes to a ready worker; a 2xx answer resets the count, and
/// a non-2xx answer, or none within <see cref="ClusterOptions.WorkerHealthTimeout"/>, is a failure;
/// <see cref="ClusterOptions.WorkerHealthFailures"/> in a row make the worker unhealthy. An answer to an older probe
/// (late) is ignored: that probe has already been counted.
/// </summary>
internal sealed class WorkerProbePolicy(ClusterOptions options)
{
    public (WorkerProbeState State, ProbeAction Action) Tick(WorkerProbeState state, DateTimeOffset now)
    {
        if (state.PendingSince is { } sentAt)
        {
            return now - sentAt >= options.WorkerHealthTimeout ? Fail(state) : (state, ProbeAction.None);
        }

        return state.LastSentAt is { } last && now - last < options.WorkerHealthInterval
            ? (state, ProbeAction.None)
            : (state with { LastId = state.LastId + 1, PendingSince = now, LastSentAt = now }, ProbeAction.Send);
    }

    public (WorkerProbeState State, ProbeAction Action) Answered(WorkerProbeState state, long id, int status)
    {
        if (state.PendingSince is null || id != state.LastId)
        {
            return (state, ProbeAction.None);
        }

        return status is >= 200 and < 300 ? (state with { PendingSince = null, Failures = 0 }, ProbeAction.None) : Fail(state);
    }

    private (WorkerProbeState, ProbeAction) Fail(WorkerProbeState state)
    {
        var failed = state with { PendingSince = null, Failures = state.Failures + 1 };
        return (failed, failed.Failures >= options.WorkerHealthFailures ? ProbeAction.Unhealthy : ProbeAction.None);
    }
}
