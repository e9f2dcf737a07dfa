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

    [Theory]
    [InlineData("the app's URL")]
    [InlineData("the admin endpoint")]
    public async Task The_app_with_a_taken_port_says_so_in_one_line_and_exits_with_code_2_having_started_nothing(string whose)
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var address = $"http://127.0.0.1:{((System.Net.IPEndPoint)taken.LocalEndpoint).Port}";
        // The file system's clock is coarser than DateTime's: a second's margin.
        var started = DateTime.UtcNow.AddSeconds(-1);
        await using var cluster = whose == "the admin endpoint"
            ? await TestCluster.StartAsync("RoundRobin", environment: new Dictionary<string, string> { ["Cluster__AdminUrl"] = address }, waitUntilReady: false)
            : await TestCluster.StartAsync("RoundRobin", urls: address, waitUntilReady: false);

        // Before the fix: the host logged the exception with its stack trace, then the process aborted (exit 134).
        var exitCode = await cluster.WaitForExitAsync(TimeSpan.FromSeconds(20));
        var log = string.Join('\n', cluster.Lines);
        Assert.True(exitCode == 2, $"exit {exitCode}\n{log}");
        var line = Assert.Single(cluster.Lines, line => line.Contains("already in use", StringComparison.OrdinalIgnoreCase));
        Assert.StartsWith("Cannot start the cluster: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain(cluster.Lines, line => line.TrimStart().StartsWith("at ", StringComparison.Ordinal) || line.Contains("Exception", StringComparison.Ordinal));
        Assert.Empty(cluster.StartedWorkerPids());
        // A file of that name may be older, left by an earlier primary with the same pid that was SIGKILLed: only one
        // written since this primary started would be its own.
        var socket = ProcessCluster.Control.ControlSocketPath.ForPid(cluster.PrimaryPid);
        Assert.False(File.Exists(socket) && File.GetLastWriteTimeUtc(socket) >= started, "a control socket left behind");
    }
}
