using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// Cluster:AgentUrl as HAProxy's agent-check reads it: a real TCP connection that gets one line and is closed, from
/// both primaries (the app itself and dotnet-cluster run).
/// </summary>
public partial class AgentTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_agent_answers_ready_with_a_weight_and_drain_once_the_primary_is_stopping(bool standalone)
    {
        await using var cluster = await TestCluster.StartAsync("RoundRobin", workers: 2, environment: new Dictionary<string, string>
        {
            ["Cluster__AgentUrl"] = "tcp://127.0.0.1:0",
            ["Cluster__DrainTimeout"] = "00:00:20",
        }, standalonePrimary: standalone ? ClusterCli.Assembly : null);
        var line = await cluster.WaitForLineAsync(text => text.Contains("HAProxy agent on tcp://", StringComparison.Ordinal), Deadline);
        var port = int.Parse(AgentPort().Match(line).Groups[1].Value);

        Assert.Matches(Weighted(), await AskAsync(port));

        // A request in flight keeps a worker draining after SIGTERM, so the primary is still there to say drain.
        using var app = new HttpClient { BaseAddress = cluster.BaseAddress, Timeout = Deadline };
        using var slow = await app.GetAsync(new Uri("/slow/4000", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        cluster.Signal(15);
        var answer = "";
        await Poll.UntilAsync(async () => (answer = await AskAsync(port)) == "drain\n", Deadline, "the agent saying drain", () => $"last answer: {answer}");
        Assert.Contains("finished in", await slow.Content.ReadAsStringAsync());
        Assert.Equal(0, await cluster.WaitForExitAsync(Deadline));
    }

    /// <summary>What HAProxy does: connect, read to the end, and nothing else.</summary>
    private static async Task<string> AskAsync(int port)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(Deadline);
        await client.ConnectAsync("127.0.0.1", port, timeout.Token);
        using var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
        return await reader.ReadToEndAsync(timeout.Token);
    }

    [GeneratedRegex(@"HAProxy agent on tcp://127\.0\.0\.1:(\d+)")]
    private static partial Regex AgentPort();

    [GeneratedRegex(@"^ready ([1-9][0-9]?|100)%\n$")]
    private static partial Regex Weighted();
}
