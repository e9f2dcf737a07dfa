using ProcessCluster.Policies;

namespace ProcessCluster.Tests;

/// <summary>The autoscaling law against scripted observations on a fake clock, one tick a second.</summary>
public class ScalingPolicyTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly long Plenty = 8L << 30;

    private readonly ScalingPolicy _policy = new(
        Min: 1, Max: 8, TargetBusy: 0.6, Tolerance: 0.1, DownWindow: TimeSpan.FromSeconds(60), QueueFastPath: 64, MinFreeMemoryBytes: 256L << 20, InFlightFastPath: 8);

    /// <summary>
    /// Runs the policy for as many ticks as <paramref name="work"/> has entries, applying each decision at once (as the
    /// supervisor would once the workers are up). Work is in busy workers' worth, shared evenly: each of n workers
    /// reports min(1, work / n). Returns the count after each tick.
    /// </summary>
    private List<int> Run(int start, IEnumerable<double> work, int queued = 0, long free = 0, ScalingPolicy? policy = null)
    {
        var state = ScalingState.Start(Start);
        var current = start;
        var counts = new List<int>();
        var tick = 0;
        foreach (var load in work)
        {
            var now = Start.AddSeconds(++tick);
            var busy = Enumerable.Repeat(new WorkerLoad(Math.Min(1, load / current), 0), current).ToList();
            var decision = (policy ?? _policy).Decide(state, new ScalingObservation(current, busy, queued, free == 0 ? Plenty : free), now);
            (state, current) = (decision.State, decision.Desired);
            counts.Add(current);
        }

        return counts;
    }

    private static IEnumerable<double> Ticks(int count, double work) => Enumerable.Repeat(work, count);

    [Fact]
    public void A_saturated_worker_scales_up_at_once_bounded_per_step()
    {
        Assert.Equal([2, 4, 7], Run(1, Ticks(3, 100)).Take(3));
        var big = new ScalingPolicy(1, 64, 0.6, 0.1, TimeSpan.FromSeconds(60), 64, 0, 8);
        var decision = big.Decide(ScalingState.Start(Start), new ScalingObservation(10, Enumerable.Repeat(new WorkerLoad(1.0, 1), 10).ToList(), 0, Plenty), Start.AddSeconds(1));
        Assert.Equal(17, decision.Desired);
        Assert.Contains("busy 1.00 across 10 workers (target 0.60)", decision.Why);
    }

    [Fact]
    public void Load_within_the_tolerance_band_changes_nothing()
    {
        Assert.All(Run(3, Ticks(120, 3 * 0.63)), count => Assert.Equal(3, count));
        Assert.All(Run(3, Ticks(120, 3 * 0.57)), count => Assert.Equal(3, count));
    }

    [Fact]
    public void Scale_down_waits_for_the_window_then_goes_one_worker_at_a_time_two_seconds_apart()
    {
        var counts = Run(4, Ticks(70, 0.2));
        Assert.All(counts.Take(59), count => Assert.Equal(4, count));
        Assert.Equal([3, 3, 2, 2, 1, 1], counts.Skip(59).Take(6));
        Assert.Equal(1, counts[^1]);
    }

    [Fact]
    public void A_noisy_steady_load_does_not_flap()
    {
        var random = new Random(7);
        // 1.2 busy workers' worth, ±0.15: 0.6 each on two workers, at the edge of the band.
        var counts = Run(2, Enumerable.Range(0, 300).Select(_ => 1.05 + random.NextDouble() * 0.3));
        var changes = counts.Zip(counts.Skip(1)).Count(pair => pair.First != pair.Second);
        Assert.InRange(changes, 0, 1);
    }

    [Fact]
    public void The_count_stays_within_bounds()
    {
        Assert.All(Run(1, Ticks(30, 100)), count => Assert.InRange(count, 1, 8));
        Assert.Equal(8, Run(1, Ticks(30, 100))[^1]);
        var below = _policy.Decide(ScalingState.Start(Start), new ScalingObservation(0, [], 0, Plenty), Start);
        Assert.Equal(1, below.Desired);
    }

    [Fact]
    public void Workers_still_warming_up_count_as_idle_so_growth_waits_for_measurements()
    {
        // Two workers, one measured saturated and one warming up: ceil(1.0 / 0.6) = 2, no more.
        var decision = _policy.Decide(ScalingState.Start(Start), new ScalingObservation(2, [new WorkerLoad(1.0, 1)], 0, Plenty), Start.AddSeconds(1));
        Assert.Equal(2, decision.Desired);
        var unmeasured = _policy.Decide(ScalingState.Start(Start), new ScalingObservation(2, [], 0, Plenty), Start.AddSeconds(1));
        Assert.Equal((2, "no worker measured yet"), (unmeasured.Desired, unmeasured.Why));
    }

    [Fact]
    public void A_queue_in_the_primary_scales_up_without_measurements()
    {
        var decision = _policy.Decide(ScalingState.Start(Start), new ScalingObservation(2, [], 100, Plenty), Start.AddSeconds(1));
        Assert.Equal(6, decision.Desired);
        Assert.Contains("100 connections waiting", decision.Why);
    }

    [Fact]
    public void No_worker_is_added_below_the_free_memory_floor()
    {
        Assert.All(Run(1, Ticks(10, 100), free: 100L << 20), count => Assert.Equal(1, count));
    }

    [Fact]
    public void An_up_soon_after_a_down_holds_the_next_down_longer()
    {
        // Idle for 61 s: a down (4 → 3) at 60 s. A burst right after: up. Idle again: the next down waits twice the window.
        var counts = Run(4, Ticks(61, 0.0).Concat(Ticks(1, 100)).Concat(Ticks(150, 0.0)));
        Assert.Equal([3, 3, 5], counts.Skip(59).Take(3));
        var nextDown = counts.FindIndex(62, count => count < 5);
        Assert.True(nextDown - 61 >= 120, $"next down {nextDown - 61} s after the up");
    }

    [Fact]
    public void One_report_of_a_worker_with_requests_piling_up_adds_a_worker_at_once_and_only_once()
    {
        // Its busy fraction still shows the quiet before the step (the sample is not over); its in-flight count does not.
        var state = ScalingState.Start(Start);
        var overloaded = _policy.Decide(state, new ScalingObservation(1, [new WorkerLoad(0.05, 16)], 0, Plenty), Start.AddSeconds(0.1));
        Assert.Equal(2, overloaded.Desired);
        Assert.StartsWith("in-flight fast path: 1 of 1 workers at 8 or more requests in flight (most 16), busy 1.00 across 1 workers", overloaded.Why);

        // The added worker warms up, unmeasured: the same report again adds nothing more.
        var again = _policy.Decide(overloaded.State, new ScalingObservation(2, [new WorkerLoad(0.4, 16)], 0, Plenty), Start.AddSeconds(0.2));
        Assert.Equal(2, again.Desired);

        // Below the bound the busy fraction alone decides, as before.
        var busyEnough = _policy.Decide(ScalingState.Start(Start), new ScalingObservation(1, [new WorkerLoad(0.05, 7)], 0, Plenty), Start.AddSeconds(0.1));
        Assert.Equal(1, busyEnough.Desired);
    }

    [Fact]
    public void With_min_zero_an_idle_cluster_goes_to_zero_after_the_window_and_a_waiting_connection_brings_a_worker_back()
    {
        var toZero = _policy with { Min = 0 };
        var state = ScalingState.Start(Start);
        var current = 1;
        var reachedZeroAt = 0;
        for (var tick = 1; tick <= 70 && current > 0; tick++)
        {
            var decision = toZero.Decide(state, new ScalingObservation(current, [new WorkerLoad(0, 0)], 0, Plenty), Start.AddSeconds(tick));
            (state, current, reachedZeroAt) = (decision.State, decision.Desired, tick);
        }

        Assert.Equal((0, 60), (current, reachedZeroAt));
        var idle = toZero.Decide(state, new ScalingObservation(0, [], 0, Plenty), Start.AddSeconds(80));
        Assert.Equal(0, idle.Desired);

        // A connection waits: one worker, even below the free-memory floor (the connection has nowhere else to go).
        var woken = toZero.Decide(idle.State, new ScalingObservation(0, [], 1, 1L << 20), Start.AddSeconds(90));
        Assert.Equal((1, "1 connections waiting and no worker"), (woken.Desired, woken.Why));

        // Any request in the window keeps the last worker: idle means none at all.
        Assert.All(Run(1, Ticks(120, 0.01), policy: toZero), count => Assert.Equal(1, count));
    }

    [Fact]
    public void A_sawtooth_of_two_second_bursts_every_ten_seconds_settles_after_the_first_burst()
    {
        // Ten minutes, one decision per 500 ms (the load report interval): bursts of 3 busy workers' worth, idle between.
        var state = ScalingState.Start(Start);
        var current = 1;
        var changes = new List<(double At, int From, int To)>();
        for (var step = 1; step <= 1200; step++)
        {
            var seconds = step / 2.0;
            var burst = seconds % 10 < 2;
            var busy = Enumerable.Repeat(new WorkerLoad(burst ? Math.Min(1, 3.0 / current) : 0, burst ? 12 / current : 0), current).ToList();
            var decision = _policy.Decide(state, new ScalingObservation(current, busy, 0, Plenty), Start.AddSeconds(seconds));
            if (decision.Desired != current)
            {
                changes.Add((seconds, current, decision.Desired));
            }

            (state, current) = (decision.State, decision.Desired);
        }

        // Up within the first burst, then held: the window keeps seeing the bursts, so it never scales down between them.
        Assert.InRange(changes.Count, 1, 3);
        Assert.All(changes, change => Assert.True(change.At < 2 && change.To > change.From, $"{change.From} → {change.To} at {change.At} s"));
        Assert.InRange(current, 5, 8);
    }
}
