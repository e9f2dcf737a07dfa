using ProcessCluster.Ipc;
using ProcessCluster.Policies;

namespace ProcessCluster.Primary;

/// <summary>
/// The app's health check asked of each ready worker (Cluster:WorkerHealthPath), through its channel: the worker asks
/// itself and answers the HTTP status. <see cref="WorkerProbePolicy"/> decides when to probe and when a worker is
/// unhealthy; an unhealthy one is replaced (<see cref="Replacements.ReplaceUnhealthy"/>) and probed no more.
/// </summary>
internal sealed class WorkerProbes(SupervisorContext context, Replacements replacements)
{
    private readonly WorkerProbePolicy _policy = new(context.Options);
    private readonly Dictionary<int, (WorkerProbeState State, string Last)> _probed = [];

    private string? Path => context.Options.WorkerHealthPath is { Length: > 0 } path ? path : null;

    /// <summary>On each probe tick: probes that fall due go out, and those unanswered past the timeout fail.</summary>
    public void Tick()
    {
        if (Path is null || context.Stopping)
        {
            return;
        }

        foreach (var gone in _probed.Keys.Where(id => context.Workers.Find(id) is not { State: WorkerState.Ready }).ToList())
        {
            _probed.Remove(gone);
        }

        var now = context.Now;
        foreach (var worker in context.Workers.In(WorkerState.Ready).ToList())
        {
            var (state, last) = _probed.GetValueOrDefault(worker.Id, (WorkerProbeState.None, "none"));
            if (state.Failures < context.Options.WorkerHealthFailures)
            {
                var (next, action) = _policy.Tick(state, now);
                Apply(worker, next, action, action == ProbeAction.Unhealthy ? $"no answer within {context.Options.WorkerHealthTimeout.TotalSeconds:0.#} s" : last);
            }
        }
    }

    public void Answered(WorkerHandle worker, long probeId, int status)
    {
        if (worker.State == WorkerState.Ready && _probed.TryGetValue(worker.Id, out var probed))
        {
            var (next, action) = _policy.Answered(probed.State, probeId, status);
            Apply(worker, next, action, status == 0 ? "no response" : $"status {status}");
        }
    }

    private void Apply(WorkerHandle worker, WorkerProbeState state, ProbeAction action, string last)
    {
        _probed[worker.Id] = (state, last);
        switch (action)
        {
            case ProbeAction.Send:
                worker.AwaitProbe(state.LastId);
                // Not sent (a full channel): the probe times out, a failure like any other.
                WorkerOperations.TrySend(worker, FrameType.HealthProbe, FrameFormat.WriteHealthProbe(state.LastId, context.Options.WorkerHealthTimeout, Path!));
                break;
            case ProbeAction.Unhealthy:
                SupervisorLog.Unhealthy(context.Logger, worker, state.Failures, Path!, last);
                replacements.ReplaceUnhealthy(worker);
                break;
        }
    }
}
