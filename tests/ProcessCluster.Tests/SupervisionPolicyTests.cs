using ProcessCluster.Policies;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

public class RestartPolicyTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly RestartPolicy _policy = RestartPolicy.From(new ClusterOptions());

    /// <summary>Feeds deaths one after another on a fake clock; returns every decision.</summary>
    private List<RestartDecision> Deaths(int count, WorkerDeath death, TimeSpan apart)
    {
        var history = RestartHistory.Empty;
        var decisions = new List<RestartDecision>();
        for (var i = 0; i < count; i++)
        {
            var decision = _policy.Decide(history, death, Start + apart * i);
            decisions.Add(decision);
            history = decision.History;
        }

        return decisions;
    }

    [Fact]
    public void Deaths_in_a_row_back_off_exponentially_up_to_the_cap()
    {
        var delays = Deaths(11, new WorkerDeath(TimeSpan.FromSeconds(5), BecameReady: true), TimeSpan.FromSeconds(20))
            .Select(decision => decision.Delay.TotalMilliseconds);
        Assert.Equal([100, 200, 400, 800, 1600, 3200, 6400, 12800, 15000, 15000, 15000], delays);
    }

    [Fact]
    public void A_worker_that_stayed_up_30_seconds_resets_the_delay()
    {
        var history = Deaths(5, new WorkerDeath(TimeSpan.FromSeconds(5), true), TimeSpan.FromSeconds(10))[^1].History;
        var decision = _policy.Decide(history, new WorkerDeath(TimeSpan.FromSeconds(30), true), Start + TimeSpan.FromMinutes(5));
        Assert.Equal(TimeSpan.FromMilliseconds(100), decision.Delay);
        Assert.Equal(1, decision.History.DeathsInARow);
    }

    [Fact]
    public void More_than_the_limit_of_early_deaths_in_the_window_gives_up()
    {
        var decisions = Deaths(11, new WorkerDeath(TimeSpan.FromMilliseconds(300), BecameReady: false), TimeSpan.FromSeconds(1));
        Assert.All(decisions.Take(10), decision => Assert.False(decision.GiveUp));
        Assert.True(decisions[10].GiveUp);
        Assert.All(decisions, decision => Assert.True(decision.Early));
    }

    [Fact]
    public void Early_deaths_spread_wider_than_the_window_never_give_up()
    {
        var decisions = Deaths(30, new WorkerDeath(TimeSpan.FromMilliseconds(300), BecameReady: false), TimeSpan.FromSeconds(7));
        Assert.DoesNotContain(decisions, decision => decision.GiveUp);
        Assert.InRange(decisions[^1].History.EarlyDeaths.Count, 1, 9);
    }

    [Fact]
    public void Deaths_of_workers_that_ran_past_min_uptime_do_not_count_against_the_budget()
    {
        var decisions = Deaths(50, new WorkerDeath(TimeSpan.FromSeconds(2), BecameReady: true), TimeSpan.FromMilliseconds(100));
        Assert.DoesNotContain(decisions, decision => decision.GiveUp || decision.Early);
    }

    [Fact]
    public void The_last_serving_worker_is_replaced_at_once_unless_it_died_early()
    {
        var history = Deaths(6, new WorkerDeath(TimeSpan.FromSeconds(5), true), TimeSpan.FromSeconds(5))[^1].History;
        var last = _policy.Decide(history, new WorkerDeath(TimeSpan.FromSeconds(5), BecameReady: true, OthersServing: false), Start.AddMinutes(1));
        Assert.Equal(TimeSpan.Zero, last.Delay);
        Assert.Equal(7, last.History.DeathsInARow);
        var booting = _policy.Decide(history, new WorkerDeath(TimeSpan.FromSeconds(5), BecameReady: false, OthersServing: false), Start.AddMinutes(1));
        Assert.Equal(TimeSpan.FromMilliseconds(6400), booting.Delay);
    }

    [Fact]
    public void A_worker_that_never_became_ready_is_early_however_long_it_ran()
    {
        var decision = _policy.Decide(RestartHistory.Empty, new WorkerDeath(TimeSpan.FromSeconds(50), BecameReady: false), Start);
        Assert.True(decision.Early);
    }
}

public class WorkerHealthPolicyTests
{
    private static readonly DateTimeOffset Forked = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Ready = Forked.AddSeconds(1);

    private static readonly ClusterOptions Options = new()
    {
        MaxMemoryMb = 200,
        MaxRequests = 1000,
        MaxLifetime = TimeSpan.FromHours(1),
    };

    private readonly WorkerHealthPolicy _policy = new(Options);

    private static WorkerObservation Worker(
        WorkerState state = WorkerState.Ready, DateTimeOffset? heartbeat = null, long requests = 0, long memoryMb = 50) =>
        new(state, Forked, state is WorkerState.Starting or WorkerState.Online ? null : Ready, heartbeat ?? Ready, requests, 1050, memoryMb * 1024 * 1024);

    [Fact]
    public void A_worker_with_recent_heartbeats_and_within_limits_is_healthy()
    {
        var now = Ready.AddSeconds(60);
        Assert.Equal(HealthVerdict.Healthy, _policy.Decide(Worker(heartbeat: now.AddSeconds(-4), requests: 900, memoryMb: 199), now));
    }

    [Fact]
    public void Silence_past_the_heartbeat_timeout_is_a_hang_even_while_draining()
    {
        var now = Ready.AddSeconds(100);
        Assert.Equal(HealthVerdict.Hung, _policy.Decide(Worker(heartbeat: now.AddSeconds(-31)), now));
        Assert.Equal(HealthVerdict.Hung, _policy.Decide(Worker(WorkerState.Draining, heartbeat: now.AddSeconds(-31)), now));
        Assert.Equal(HealthVerdict.Healthy, _policy.Decide(Worker(heartbeat: now.AddSeconds(-29)), now));
    }

    [Fact]
    public void A_worker_not_listening_within_the_ready_timeout_is_killed()
    {
        Assert.Equal(HealthVerdict.Healthy, _policy.Decide(Worker(WorkerState.Online), Forked.AddSeconds(59)));
        Assert.Equal(HealthVerdict.NotReadyInTime, _policy.Decide(Worker(WorkerState.Starting), Forked.AddSeconds(61)));
    }

    [Fact]
    public void Memory_requests_and_age_recycle_in_that_order()
    {
        var now = Ready.AddSeconds(20);
        Assert.Equal(HealthVerdict.RecycleForMemory, _policy.Decide(Worker(heartbeat: now, requests: 2000, memoryMb: 201), now));
        Assert.Equal(HealthVerdict.RecycleForRequests, _policy.Decide(Worker(heartbeat: now, requests: 1050), now));
        Assert.Equal(HealthVerdict.Healthy, _policy.Decide(Worker(heartbeat: now, requests: 1049), now));
        var old = Forked.AddHours(1);
        Assert.Equal(HealthVerdict.RecycleForLifetime, _policy.Decide(Worker(heartbeat: old), old));
    }

    [Fact]
    public void Nothing_recycles_before_the_minimum_lifetime_nor_while_draining()
    {
        var young = Ready.AddSeconds(9);
        Assert.Equal(HealthVerdict.Healthy, _policy.Decide(Worker(heartbeat: young, requests: 5000, memoryMb: 900), young));
        var later = Ready.AddSeconds(20);
        Assert.Equal(HealthVerdict.Healthy, _policy.Decide(Worker(WorkerState.Draining, heartbeat: later, memoryMb: 900), later));
    }

    [Theory]
    [InlineData(0.0, 1000)]
    [InlineData(0.5, 1050)]
    [InlineData(0.999, 1099)]
    public void Request_limits_spread_over_the_jitter(double random, long expected)
    {
        Assert.Equal(expected, WorkerHealthPolicy.RequestLimit(new ClusterOptions { MaxRequests = 1000 }, random));
        Assert.Equal(0, WorkerHealthPolicy.RequestLimit(new ClusterOptions(), random));
    }
}

public class WorkerStateMachineTests
{
    [Fact]
    public void The_forward_path_is_starting_online_ready_draining_dead()
    {
        var state = WorkerState.Starting;
        foreach (var (trigger, expected) in new[]
        {
            (WorkerTrigger.Connected, WorkerState.Online),
            (WorkerTrigger.Listening, WorkerState.Ready),
            (WorkerTrigger.Drain, WorkerState.Draining),
            (WorkerTrigger.Exited, WorkerState.Dead),
        })
        {
            state = WorkerStateMachine.Next(state, trigger) ?? throw new InvalidOperationException($"{trigger} refused in {state}");
            Assert.Equal(expected, state);
        }
    }

    [Fact]
    public void A_spare_is_promoted_to_ready_and_nothing_else_makes_a_worker_ready_twice()
    {
        Assert.Equal(WorkerState.Spare, WorkerStateMachine.Next(WorkerState.Online, WorkerTrigger.ListeningAsSpare));
        Assert.Equal(WorkerState.Ready, WorkerStateMachine.Next(WorkerState.Spare, WorkerTrigger.Promote));
        Assert.Null(WorkerStateMachine.Next(WorkerState.Ready, WorkerTrigger.Promote));
        Assert.Null(WorkerStateMachine.Next(WorkerState.Draining, WorkerTrigger.Promote));
        Assert.Null(WorkerStateMachine.Next(WorkerState.Spare, WorkerTrigger.Listening));
    }

    [Theory]
    [InlineData(WorkerState.Draining, WorkerTrigger.Listening)]
    [InlineData(WorkerState.Draining, WorkerTrigger.Connected)]
    [InlineData(WorkerState.Draining, WorkerTrigger.Drain)]
    [InlineData(WorkerState.Starting, WorkerTrigger.Listening)]
    [InlineData(WorkerState.Ready, WorkerTrigger.Connected)]
    [InlineData(WorkerState.Dead, WorkerTrigger.Exited)]
    [InlineData(WorkerState.Dead, WorkerTrigger.Listening)]
    // The trigger type is internal: xUnit passes it boxed.
    public void Late_or_repeated_events_are_refused(WorkerState state, object trigger)
    {
        Assert.Null(WorkerStateMachine.Next(state, (WorkerTrigger)trigger));
    }

    [Theory]
    [InlineData(WorkerState.Starting)]
    [InlineData(WorkerState.Online)]
    [InlineData(WorkerState.Ready)]
    [InlineData(WorkerState.Spare)]
    [InlineData(WorkerState.Draining)]
    public void A_worker_can_die_or_start_draining_from_any_live_state(WorkerState state)
    {
        Assert.Equal(WorkerState.Dead, WorkerStateMachine.Next(state, WorkerTrigger.Exited));
        Assert.Equal(state == WorkerState.Draining ? null : WorkerState.Draining, WorkerStateMachine.Next(state, WorkerTrigger.Drain));
    }

    [Theory]
    [InlineData(StopReason.Reload, true)]
    [InlineData(StopReason.RecycledForMemory, true)]
    [InlineData(StopReason.Shutdown, true)]
    [InlineData(StopReason.Hung, false)]
    [InlineData(StopReason.Crashed, false)]
    [InlineData(StopReason.NotReadyInTime, false)]
    public void Planned_stops_are_not_restarted_and_failures_are(StopReason reason, bool planned)
    {
        Assert.Equal(planned, reason.IsPlanned());
    }
}

public class ReplacementQueueTests
{
    private readonly ReplacementQueue _queue = new();

    [Fact]
    public void Replacements_surge_then_drain_one_at_a_time()
    {
        _queue.Enqueue(1, StopReason.Reload);
        _queue.Enqueue(2, StopReason.Reload);
        var first = Assert.Single(_queue.TakeNext(concurrency: 1));
        Assert.Equal(1, first.OldWorkerId);
        _queue.SuccessorStarted(1, 10);
        Assert.Empty(_queue.TakeNext(1));

        // The old worker is drained only once its successor is ready.
        Assert.Null(_queue.WorkerReady(99));
        Assert.Equal(ReplacementPhase.DrainingOld, _queue.WorkerReady(10)?.Phase);
        Assert.Empty(_queue.TakeNext(1));

        // The next starts only when the old one has exited.
        Assert.Equal(ReplacementOutcome.Completed, _queue.WorkerExited(1)?.Outcome);
        Assert.Equal(2, Assert.Single(_queue.TakeNext(1)).OldWorkerId);
    }

    [Fact]
    public void Concurrency_bounds_the_steps_running_at_once()
    {
        foreach (var id in new[] { 1, 2, 3 })
        {
            _queue.Enqueue(id, StopReason.Reload);
        }

        Assert.Equal([1, 2], _queue.TakeNext(2).Select(step => step.OldWorkerId));
        Assert.Empty(_queue.TakeNext(2));
    }

    [Fact]
    public void A_successor_that_dies_before_ready_fails_its_step_and_the_old_worker_stays()
    {
        StartReplacing(1, StopReason.RecycledForMemory, successor: 10);
        var (step, outcome) = _queue.WorkerExited(10)!.Value;
        Assert.Equal(ReplacementOutcome.SuccessorFailed, outcome);
        Assert.Equal((1, StopReason.RecycledForMemory), (step.OldWorkerId, step.Reason));
        Assert.False(_queue.Contains(1));
    }

    [Fact]
    public void An_old_worker_dying_before_its_successor_is_ready_is_covered_by_the_successor()
    {
        StartReplacing(1, StopReason.Reload, successor: 10);
        Assert.Equal(ReplacementOutcome.OldWorkerLost, _queue.WorkerExited(1)?.Outcome);
        Assert.Null(_queue.WorkerReady(10));
    }

    private void StartReplacing(int old, StopReason reason, int successor)
    {
        _queue.Enqueue(old, reason);
        Assert.Equal(old, Assert.Single(_queue.TakeNext(1)).OldWorkerId);
        _queue.SuccessorStarted(old, successor);
    }

    [Fact]
    public void A_worker_is_queued_once_and_cancelling_leaves_running_steps_alone()
    {
        _queue.Enqueue(1, StopReason.RecycledForRequests);
        _queue.Enqueue(1, StopReason.RecycledForMemory);
        _queue.Enqueue(2, StopReason.Reload);
        Assert.Equal(StopReason.RecycledForRequests, Assert.Single(_queue.TakeNext(1)).Reason);
        Assert.Equal(2, Assert.Single(_queue.CancelWaiting(_ => true)).OldWorkerId);
        Assert.True(_queue.Contains(1));
    }
}
