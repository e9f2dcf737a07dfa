using ProcessCluster.Distribution;

namespace ProcessCluster.Tests;

/// <summary>The choice of the next worker, on a fake clock in milliseconds, with unacknowledged hand-offs scripted per worker.</summary>
public class TargetSelectorTests
{
    private const int Bound = 4;
    private const long StuckAfter = 300;

    private readonly Dictionary<int, HandoffLoad> _inFlight = [];

    private HandoffLoad InFlight(int workerId) => _inFlight.GetValueOrDefault(workerId);

    private static TargetSelector Selector(DispatchMode mode, params int[] workers)
    {
        var selector = new TargetSelector(mode, Bound, StuckAfter);
        foreach (var worker in workers)
        {
            selector.Add(worker, now: 0);
        }

        return selector;
    }

    /// <summary>Chooses and sends <paramref name="count"/> times at <paramref name="now"/>: the workers chosen.</summary>
    private List<int> SendMany(TargetSelector selector, int count, long now = 0)
    {
        var chosen = new List<int>();
        for (var i = 0; i < count; i++)
        {
            var choice = selector.Choose(now, InFlight) ?? throw new InvalidOperationException("no worker chosen");
            selector.Sent(choice);
            chosen.Add(choice.WorkerId);
        }

        return chosen;
    }

    [Fact]
    public void Round_robin_takes_each_worker_in_turn() =>
        Assert.Equal([1, 2, 3, 1, 2, 3], SendMany(Selector(DispatchMode.RoundRobin, 1, 2, 3), 6));

    [Fact]
    public void A_choice_whose_send_did_not_happen_costs_no_turn()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2);

        Assert.Equal(1, selector.Choose(0, InFlight)?.WorkerId);
        Assert.Equal(1, selector.Choose(0, InFlight)?.WorkerId);
        Assert.Equal([1, 2], SendMany(selector, 2));
    }

    [Fact]
    public void Retired_blocked_and_removed_workers_are_skipped_and_a_blocked_one_returns_when_unblocked()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2, 3, 4);
        selector.Retire(1);
        selector.SetBlocked(2, true);
        selector.Remove(4);

        Assert.Equal([3, 3], SendMany(selector, 2));
        selector.SetBlocked(2, false);
        Assert.Equal([2, 3], SendMany(selector, 2));
        selector.SetBlocked(3, true);
        selector.SetBlocked(2, true);
        Assert.Null(selector.Choose(0, InFlight));
    }

    [Fact]
    public void A_worker_at_its_bound_of_unacknowledged_hand_offs_is_skipped()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2);
        _inFlight[1] = new HandoffLoad(Bound, 0);

        Assert.Equal([2, 2], SendMany(selector, 2));
        _inFlight[2] = new HandoffLoad(Bound, 0);
        Assert.Null(selector.Choose(0, InFlight));
        _inFlight[1] = new HandoffLoad(Bound - 1, 0);
        Assert.Equal(1, selector.Choose(0, InFlight)?.WorkerId);
    }

    [Fact]
    public void A_shedding_worker_is_passed_over_for_as_many_connections_as_it_sheds_and_only_when_they_were_sent()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2);
        selector.Shedding(1, connections: 2, until: 1_000);

        var unsent = selector.Choose(0, InFlight);
        Assert.Equal(new TargetChoice(2, PassedOver: 1), unsent);
        Assert.Equal(new TargetChoice(2, PassedOver: 1), selector.Choose(0, InFlight));

        // Two connections went to worker 2 in its place; then worker 1 takes its turn again.
        Assert.Equal([2, 2, 1, 2], SendMany(selector, 4));
    }

    [Fact]
    public void A_shed_lapses_at_its_deadline()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2);
        selector.Shedding(1, connections: 10, until: 1_000);

        Assert.Equal([2], SendMany(selector, 1, now: 999));
        Assert.Equal([1, 2], SendMany(selector, 2, now: 1_000));
    }

    [Fact]
    public void A_shedding_worker_still_takes_connections_when_no_other_worker_can()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2);
        selector.Shedding(1, connections: 10, until: 1_000);
        selector.SetBlocked(2, true);

        Assert.Equal(new TargetChoice(1, PassedOver: null), selector.Choose(0, InFlight));
    }

    [Fact]
    public void When_every_worker_sheds_none_is_passed_over_and_connections_go_round_robin()
    {
        // The rebalancer asked each in turn, a probe apart, and both sheds overlap: dispatch must not stop.
        var selector = Selector(DispatchMode.RoundRobin, 1, 2);
        selector.Shedding(1, connections: 16, until: 1_000);
        selector.Shedding(2, connections: 16, until: 1_000);

        Assert.Equal(new TargetChoice(1, PassedOver: null), selector.Choose(0, InFlight));
        Assert.Equal([1, 2, 1, 2], SendMany(selector, 4));
    }

    [Fact]
    public void A_shedding_worker_waits_for_the_others_at_their_bound_but_not_for_one_that_left_a_connection_unacknowledged_for_long()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2);
        selector.Shedding(1, connections: 10, until: 10_000);
        _inFlight[2] = new HandoffLoad(Bound, OldestSentAt: 0);

        Assert.Null(selector.Choose(500, InFlight));
        Assert.Equal(new TargetChoice(1, PassedOver: null), selector.Choose(501, InFlight));
    }

    [Fact]
    public void Least_busy_picks_the_fewest_requests_counting_what_was_sent_since_the_report()
    {
        var selector = Selector(DispatchMode.LeastBusy, 1, 2, 3);
        selector.OnLoadReport(1, requestsInFlight: 5, now: 0);
        selector.OnLoadReport(2, requestsInFlight: 1, now: 0);
        selector.OnLoadReport(3, requestsInFlight: 2, now: 0);

        // 2 (1 in flight) takes one, then ties with 3 (2 + 0); ties go round-robin from the last chosen.
        Assert.Equal([2, 3, 2, 3], SendMany(selector, 4));
        selector.OnLoadReport(2, requestsInFlight: 0, now: 10);
        Assert.Equal([2], SendMany(selector, 1, now: 10));
    }

    [Fact]
    public void Least_busy_counts_a_choice_only_once_its_send_happened()
    {
        var selector = Selector(DispatchMode.LeastBusy, 1, 2);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(1, selector.Choose(0, InFlight)?.WorkerId);
        }

        Assert.Equal([1, 2], SendMany(selector, 2));
    }

    [Fact]
    public void Least_busy_passes_over_a_worker_with_a_connection_unacknowledged_for_long()
    {
        var selector = Selector(DispatchMode.LeastBusy, 1, 2);
        selector.OnLoadReport(1, requestsInFlight: 0, now: 400);
        selector.OnLoadReport(2, requestsInFlight: 50, now: 400);
        _inFlight[1] = new HandoffLoad(1, OldestSentAt: 0);

        Assert.Equal([1], SendMany(selector, 1, now: 500));
        Assert.Equal([2], SendMany(selector, 1, now: 501));
    }

    [Fact]
    public void Least_busy_passes_over_a_worker_whose_reports_are_late_until_it_reports_again()
    {
        var selector = Selector(DispatchMode.LeastBusy, 1, 2);
        selector.OnLoadReport(2, requestsInFlight: 50, now: 200);

        Assert.Equal([1], SendMany(selector, 1, now: StuckAfter));
        Assert.Equal([2], SendMany(selector, 1, now: StuckAfter + 1));
        selector.OnLoadReport(1, requestsInFlight: 0, now: StuckAfter + 1);
        Assert.Equal([1], SendMany(selector, 1, now: StuckAfter + 1));
    }

    [Fact]
    public void When_every_worker_is_stuck_the_least_busy_of_them_still_takes_connections()
    {
        var selector = Selector(DispatchMode.LeastBusy, 1, 2);
        selector.OnLoadReport(1, requestsInFlight: 3, now: 0);

        Assert.Equal([2], SendMany(selector, 1, now: 10_000));
    }

    [Fact]
    public void A_connection_with_a_worker_token_goes_to_that_worker_without_taking_a_turn()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2, 3);
        var affine = selector.Choose(0, InFlight, ConnectionAffinity.ToWorker(3)) ?? throw new InvalidOperationException("no worker chosen");
        selector.Sent(affine);

        Assert.Equal(new TargetChoice(3, null, Affine: true), affine);
        Assert.Equal([1, 2, 3], SendMany(selector, 3));
    }

    [Fact]
    public void A_token_of_a_worker_that_is_gone_or_retired_goes_round_robin()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2, 3);
        selector.Remove(3);
        selector.Retire(2);

        Assert.Equal(new TargetChoice(1, null), selector.Choose(0, InFlight, ConnectionAffinity.ToWorker(3)));
        Assert.Equal(new TargetChoice(1, null), selector.Choose(0, InFlight, ConnectionAffinity.ToWorker(2)));
    }

    [Fact]
    public void A_token_of_a_worker_at_its_bound_or_blocked_waits_for_it_unless_it_has_left_a_hand_off_unacknowledged_for_long()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2);
        _inFlight[1] = new HandoffLoad(Bound, OldestSentAt: 0);
        Assert.Null(selector.Choose(100, InFlight, ConnectionAffinity.ToWorker(1)));
        Assert.Equal(new TargetChoice(2, null), selector.Choose(100, InFlight));

        _inFlight.Clear();
        selector.SetBlocked(1, true);
        Assert.Null(selector.Choose(100, InFlight, ConnectionAffinity.ToWorker(1)));
        selector.SetBlocked(1, false);
        Assert.Equal(new TargetChoice(1, null, Affine: true), selector.Choose(100, InFlight, ConnectionAffinity.ToWorker(1)));

        // Stuck (paused, hung): the client is better off reconnecting elsewhere.
        _inFlight[1] = new HandoffLoad(Bound, OldestSentAt: 0);
        Assert.Equal(new TargetChoice(2, null), selector.Choose(10_000, InFlight, ConnectionAffinity.ToWorker(1)));
    }

    [Fact]
    public void Each_client_address_keeps_one_worker_and_addresses_spread_over_the_serving_workers()
    {
        var selector = Selector(DispatchMode.RoundRobin, 1, 2, 3);
        var chosen = Enumerable.Range(0, 300).Select(hash => selector.Choose(0, InFlight, ConnectionAffinity.ToClient((uint)hash))?.WorkerId).ToList();

        Assert.Equal(chosen, Enumerable.Range(0, 300).Select(hash => selector.Choose(0, InFlight, ConnectionAffinity.ToClient((uint)hash))?.WorkerId));
        Assert.Equal([1, 2, 3], chosen.Distinct().Order());
        selector.Retire(2);
        Assert.DoesNotContain(2, Enumerable.Range(0, 300).Select(hash => selector.Choose(0, InFlight, ConnectionAffinity.ToClient((uint)hash))?.WorkerId));
    }
}
