namespace ProcessCluster.IntegrationTests;

/// <summary>Settings the cluster cannot run with stop the app at start, naming the setting, with exit code 2.</summary>
public class ConfigurationTests
{
    [Theory]
    [InlineData("Cluster__Workers", "0", "Cluster:Workers must be at least 1")]
    [InlineData("Cluster__DrainTimeout", "-00:00:05", "Cluster:DrainTimeout must be positive")]
    [InlineData("Cluster__Scheduling", "Sideways", "Cluster:Scheduling")]
    [InlineData("Cluster__RestartDelay", "00:01:00", "Cluster:MaxRestartDelay (00:00:15) must not be less than Cluster:RestartDelay")]
    [InlineData("Cluster__HeartbeatTimeout", "soon", "Cluster:HeartbeatTimeout")]
    public async Task A_bad_setting_is_named_and_the_app_exits_with_code_2(string name, string value, string message)
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", environment: new Dictionary<string, string> { [name] = value }, waitUntilReady: false);

        Assert.Equal(2, await cluster.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains(cluster.Lines, line => line.StartsWith("Invalid cluster configuration:", StringComparison.Ordinal) && line.Contains(message, StringComparison.Ordinal));
        Assert.Empty(cluster.StartedWorkerPids());
    }
}
