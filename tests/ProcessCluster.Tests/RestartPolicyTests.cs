using ProcessCluster.Policies;

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
    public void Early_deaths_in_a_row_back_off_exponentially_up_to_the_cap()
    {
        var delays = Deaths(11, new WorkerDeath(TimeSpan.FromSeconds(5), BecameReady: false), TimeSpan.FromSeconds(20))
            .Select(decision => decision.Delay.TotalMilliseconds);
        Assert.Equal([100, 200, 400, 800, 1600, 3200, 6400, 12800, 15000, 15000, 15000], delays);
    }

    [Fact]
    public void A_worker_that_was_ready_and_served_is_replaced_at_once_however_many_died_before_it()
    {
        var decisions = Deaths(11, new WorkerDeath(TimeSpan.FromSeconds(5), BecameReady: true), TimeSpan.FromSeconds(20));
        Assert.All(decisions, decision => Assert.Equal(TimeSpan.Zero, decision.Delay));
        var afterEarlyOnes = _policy.Decide(
            Deaths(5, new WorkerDeath(TimeSpan.FromMilliseconds(300), BecameReady: false), TimeSpan.FromSeconds(1))[^1].History,
            new WorkerDeath(TimeSpan.FromSeconds(2), BecameReady: true),
            Start.AddSeconds(6));
        Assert.Equal(TimeSpan.Zero, afterEarlyOnes.Delay);
        Assert.False(afterEarlyOnes.Early);
    }

    [Fact]
    public void A_ready_worker_younger_than_min_uptime_is_early_and_waits_out_the_backoff()
    {
        var decision = _policy.Decide(RestartHistory.Empty, new WorkerDeath(TimeSpan.FromMilliseconds(900), BecameReady: true), Start);
        Assert.True(decision.Early);
        Assert.Equal(TimeSpan.FromMilliseconds(100), decision.Delay);
    }

    [Fact]
    public void Served_deaths_count_in_the_row_so_an_early_death_after_them_backs_off_further_until_a_stable_worker_resets_it()
    {
        var served = Deaths(4, new WorkerDeath(TimeSpan.FromSeconds(5), BecameReady: true), TimeSpan.FromSeconds(10))[^1].History;
        var early = _policy.Decide(served, new WorkerDeath(TimeSpan.FromMilliseconds(300), BecameReady: false), Start.AddMinutes(1));
        Assert.Equal(TimeSpan.FromMilliseconds(1600), early.Delay);
        var stable = _policy.Decide(early.History, new WorkerDeath(TimeSpan.FromSeconds(30), BecameReady: true), Start.AddMinutes(2));
        Assert.Equal(1, stable.History.DeathsInARow);
        var next = _policy.Decide(stable.History, new WorkerDeath(TimeSpan.FromMilliseconds(300), BecameReady: false), Start.AddMinutes(3));
        Assert.Equal(TimeSpan.FromMilliseconds(200), next.Delay);
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
    public void A_worker_that_never_became_ready_is_early_however_long_it_ran()
    {
        var decision = _policy.Decide(RestartHistory.Empty, new WorkerDeath(TimeSpan.FromSeconds(50), BecameReady: false), Start);
        Assert.True(decision.Early);
    }
}
