using System.Diagnostics;
using System.Text.Json;
using ProcessCluster.Control;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// Issue 12: another local user (uid 65534, by setpriv) knocks on a running primary's channel socket, which any
/// local user can reach (an abstract name), and tries its control socket. The primary refuses each connection,
/// counts every one, logs one line, and keeps serving; the control socket is out of that user's reach.
/// </summary>
public sealed class OtherUserTests
{
    private const int Knocks = 50;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [OtherUserFact]
    public async Task Another_user_is_refused_on_both_sockets_and_the_primary_keeps_serving()
    {
        await using var cluster = await TestCluster.StartAsync(
            "RoundRobin", workers: 2, environment: new Dictionary<string, string> { ["Cluster__AdminUrl"] = "http://127.0.0.1:0" });
        var workers = await cluster.ReadyPidsAsync();
        var channel = ProcessTree.Environment(workers[0])["PROCESSCLUSTER_CHANNEL"];

        var knock = new ProcessStartInfo(OtherUserFactAttribute.Setpriv)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // Somewhere the other user may be; not the test's directory.
            WorkingDirectory = "/",
        };
        string[] arguments =
        [
            "--reuid=65534", "--regid=65534", "--clear-groups", OtherUserFactAttribute.Python,
            // The script's text, not its path: the other user may not be allowed into the build's directories.
            "-c", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "OtherUser", "knock.py")), channel, ControlSocketPath.ForPid(cluster.PrimaryPid), $"{Knocks}",
        ];
        Array.ForEach(arguments, knock.ArgumentList.Add);
        using var process = Process.Start(knock)!;
        try
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(Deadline);
            Assert.True(process.ExitCode == 0, $"knock.py exited with {process.ExitCode}: {await errors}");
            using var result = JsonDocument.Parse(await output);
            Assert.Equal(Knocks, result.RootElement.GetProperty("refused").GetInt32());
            var control = result.RootElement.GetProperty("control").GetString();
            Assert.True(control is "PermissionError" || control!.Contains("refused", StringComparison.Ordinal), $"the control socket answered uid 65534: {control}");
        }
        finally
        {
            if (!process.HasExited)
            {
                ProcessTree.Kill(process.Id);
            }
        }

        using var admin = new HttpClient { BaseAddress = await cluster.AdminAddressAsync() };
        await Poll.UntilAsync(
            async () => MetricsTests.Parse(await admin.GetStringAsync("/metrics")).GetValueOrDefault("processcluster_channel_refused_total") == Knocks,
            Deadline,
            $"{Knocks} refusals counted in /metrics");
        Assert.Equal(1, cluster.CountLines("Refused a channel connection"));

        // Still the same cluster, still serving.
        Assert.Equal(workers, await cluster.ReadyPidsAsync());
        using var client = new HttpClient { BaseAddress = cluster.BaseAddress };
        Assert.StartsWith("hello", await client.GetStringAsync("/hello"), StringComparison.Ordinal);
    }
}
