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
