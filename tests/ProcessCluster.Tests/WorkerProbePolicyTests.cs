using Microsoft.Extensions.Time.Testing;
using ProcessCluster.Policies;

namespace ProcessCluster.Tests;

/// <summary>The worker health probe's decisions, on a fake clock: when a probe goes, what counts as a failure, when a worker is unhealthy.</summary>
public class WorkerProbePolicyTests
{
    private static readonly ClusterOptions Options = new()
    {
        WorkerHealthPath = "/health", WorkerHealthInterval = TimeSpan.FromSeconds(10), WorkerHealthTimeout = TimeSpan.FromSeconds(5), WorkerHealthFailures = 3,
    };

    private readonly WorkerProbePolicy _policy = new(Options);
    private readonly FakeTimeProvider _clock = new();

    [Fact]
    public void A_probe_goes_at_once_then_every_interval_and_none_while_one_is_awaited()
    {
        var (state, action) = _policy.Tick(WorkerProbeState.None, _clock.GetUtcNow());
        Assert.Equal(ProbeAction.Send, action);
        Assert.Equal(1, state.LastId);

        _clock.Advance(TimeSpan.FromSeconds(1));
        (state, action) = _policy.Tick(state, _clock.GetUtcNow());
        Assert.Equal(ProbeAction.None, action);
        (state, _) = _policy.Answered(state, 1, 204);

        _clock.Advance(TimeSpan.FromSeconds(9) - TimeSpan.FromTicks(1));
        Assert.Equal(ProbeAction.None, _policy.Tick(state, _clock.GetUtcNow()).Action);
        _clock.Advance(TimeSpan.FromTicks(1));
        (state, action) = _policy.Tick(state, _clock.GetUtcNow());
        Assert.Equal(ProbeAction.Send, action);
        Assert.Equal(2, state.LastId);
    }

    [Fact]
    public void Non_2xx_answers_and_silence_past_the_timeout_are_failures_and_the_limit_in_a_row_makes_the_worker_unhealthy()
    {
        var state = WorkerProbeState.None;
        ProbeAction action;

        // 503, then silence: two failures.
        (state, _) = _policy.Tick(state, _clock.GetUtcNow());
        (state, action) = _policy.Answered(state, state.LastId, 503);
        Assert.Equal((1, ProbeAction.None), (state.Failures, action));
        _clock.Advance(Options.WorkerHealthInterval);
        (state, _) = _policy.Tick(state, _clock.GetUtcNow());
        _clock.Advance(Options.WorkerHealthTimeout - TimeSpan.FromTicks(1));
        Assert.Equal(ProbeAction.None, _policy.Tick(state, _clock.GetUtcNow()).Action);
        _clock.Advance(TimeSpan.FromTicks(1));
        (state, action) = _policy.Tick(state, _clock.GetUtcNow());
        Assert.Equal((2, ProbeAction.None), (state.Failures, action));

        // A 200 resets the count; then three failures (0 is "no answer" from the worker itself) make it unhealthy.
        _clock.Advance(Options.WorkerHealthInterval);
        (state, _) = _policy.Tick(state, _clock.GetUtcNow());
        (state, _) = _policy.Answered(state, state.LastId, 200);
        Assert.Equal(0, state.Failures);
        foreach (var (status, expected) in new[] { (500, ProbeAction.None), (0, ProbeAction.None), (302, ProbeAction.Unhealthy) })
        {
            _clock.Advance(Options.WorkerHealthInterval);
            (state, _) = _policy.Tick(state, _clock.GetUtcNow());
            (state, action) = _policy.Answered(state, state.LastId, status);
            Assert.Equal(expected, action);
        }

        Assert.Equal(3, state.Failures);
    }

    [Fact]
    public void A_late_or_unknown_answer_counts_for_nothing()
    {
        var (state, _) = _policy.Tick(WorkerProbeState.None, _clock.GetUtcNow());
        _clock.Advance(Options.WorkerHealthTimeout);
        (state, _) = _policy.Tick(state, _clock.GetUtcNow());
        Assert.Equal(1, state.Failures);

        // Probe 1 answers after it was counted as failed: nothing changes, nor for an id never sent.
        Assert.Equal((state, ProbeAction.None), _policy.Answered(state, 1, 200));
        _clock.Advance(Options.WorkerHealthInterval);
        (state, _) = _policy.Tick(state, _clock.GetUtcNow());
        Assert.Equal((state, ProbeAction.None), _policy.Answered(state, 1, 200));
        Assert.Equal((state, ProbeAction.None), _policy.Answered(state, 99, 500));
        Assert.Equal(0, _policy.Answered(state, 2, 200).State.Failures);
    }
}
