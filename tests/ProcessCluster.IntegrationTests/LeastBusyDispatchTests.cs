namespace ProcessCluster.IntegrationTests;

/// <summary>Dispatch that looks at load: a stuck worker stops getting connections (Node and PM2 keep feeding it).</summary>
public class LeastBusyDispatchTests
{
    [Theory]
    [InlineData("LeastBusy", 0, 2)]
    [InlineData("RoundRobin", 4, 20)]
    public async Task A_stuck_worker_gets_new_connections_only_in_round_robin(string dispatch, int fewestLost, int mostLost)
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin",
            workers: 2,
            environment: new Dictionary<string, string>
            {
                ["Cluster__Dispatch"] = dispatch,
                ["Cluster__HeartbeatInterval"] = "00:00:01",
                ["Cluster__HeartbeatTimeout"] = "00:01:00",
            });
        using var client = new AppClient(cluster.BaseAddress, TimeSpan.FromSeconds(1));
        var stuck = int.Parse((await client.GetAsync("/hang")).Split(' ')[1]);
        var healthy = (await cluster.ReadyPidsAsync()).Single(pid => pid != stuck);

        var lost = 0;
        for (var i = 0; i < 20; i++)
        {
            try
            {
                Assert.Equal(healthy, await client.HelloPidAsync());
            }
            catch (TaskCanceledException)
            {
                lost++;
            }
        }

        Assert.InRange(lost, fewestLost, mostLost);
    }
}
