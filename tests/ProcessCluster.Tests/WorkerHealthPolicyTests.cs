using ProcessCluster.Policies;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

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
