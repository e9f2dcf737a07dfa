using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.RegularExpressions;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The primary binds what plain Kestrel would bind, from every source Kestrel reads, and the workers serve it: the
/// webapi-shaped app with its endpoints in appsettings.json (HTTP, HTTPS with HTTP/2 by ALPN, WebSockets on both), h2c, endpoints declared
/// in code, Unix domain sockets, and HTTP/3 refused. Real processes, real clients (curl, h2load, HttpClient).
/// </summary>
public sealed class EndpointsTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly WebApiAppCluster _app = new();

    public void Dispose() => _app.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_kestrel_endpoints_in_appsettings_are_served_by_both_workers_with_http2_over_tls(bool standalone)
    {
        // The admin endpoint's own host must not take the app's Kestrel:Endpoints for its own (it did: the primary aborted).
        await using var cluster = await _app.StartAsync(new Dictionary<string, string> { ["Cluster__AdminUrl"] = "http://127.0.0.1:0" }, standalonePrimary: Primary(standalone));
        var workers = await cluster.ReadyPidsAsync();

        Assert.Equal([$"http://127.0.0.1:{_app.HttpPort}", $"https://127.0.0.1:{_app.HttpsPort}"], cluster.Urls.Order());
        var http = await AnsweringPidsAsync(workers, $"http://127.0.0.1:{_app.HttpPort}/whoami", "HTTP/1.1 http");
        var https = await AnsweringPidsAsync(workers, $"https://127.0.0.1:{_app.HttpsPort}/whoami", "HTTP/2 https", "--http2");
        Assert.Equal(workers.Order(), http.Order());
        Assert.Equal(workers.Order(), https.Order());
        var forecast = await Curl.GetAsync($"https://127.0.0.1:{_app.HttpsPort}/weatherforecast");
        Assert.Contains("temperatureC", forecast.Body, StringComparison.Ordinal);
        Assert.Equal("2", forecast.HttpVersion);
        Assert.Equal(workers.Order(), (await WebSocketPidsAsync(workers, $"ws://127.0.0.1:{_app.HttpPort}/ws")).Order());
        Assert.Equal(workers.Order(), (await WebSocketPidsAsync(workers, $"wss://127.0.0.1:{_app.HttpsPort}/ws")).Order());
        Assert.Contains("\"restarts\":0", (await Curl.GetAsync(new Uri(await cluster.AdminAddressAsync(), "/api/status").ToString())).Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_http2_only_endpoint_serves_h2c_with_prior_knowledge(bool standalone)
    {
        var port = WebApiAppCluster.FreePort();
        await using var cluster = await _app.StartAsync(
            new Dictionary<string, string>
            {
                ["Kestrel__Endpoints__H2c__Url"] = $"http://127.0.0.1:{port}",
                ["Kestrel__Endpoints__H2c__Protocols"] = "Http2",
            },
            standalonePrimary: Primary(standalone));
        var workers = await cluster.ReadyPidsAsync();

        var answered = await AnsweringPidsAsync(workers, $"http://127.0.0.1:{port}/whoami", "HTTP/2 http", "--http2-prior-knowledge");
        Assert.Equal(workers.Order(), answered.Order());
    }

    [Fact]
    public async Task Endpoints_declared_in_code_and_a_unix_socket_are_served_by_both_workers()
    {
        var port = WebApiAppCluster.FreePort();
        var socket = _app.SocketPath("code.sock");
        await using var cluster = await _app.StartAsync(new Dictionary<string, string>
        {
            ["WEBAPI_LISTEN_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["WEBAPI_UNIX_SOCKET"] = socket,
        });
        var workers = await cluster.ReadyPidsAsync();

        Assert.Contains($"http://127.0.0.1:{port}", cluster.Urls);
        Assert.Contains($"http://unix:{socket}", cluster.Urls);
        Assert.Equal(workers.Order(), (await AnsweringPidsAsync(workers, $"http://127.0.0.1:{port}/whoami", "HTTP/1.1 http")).Order());
        Assert.Equal(workers.Order(), (await AnsweringPidsAsync(workers, "http://localhost/whoami", "HTTP/1.1 http", "--unix-socket", socket)).Order());
    }

    [Theory]
    [InlineData(false, "RoundRobin")]
    [InlineData(false, "Shared")]
    [InlineData(false, "ReusePort")]
    [InlineData(true, "RoundRobin")]
    public async Task A_unix_socket_endpoint_is_owned_by_the_primary_and_served_by_both_workers(bool standalone, string scheduling)
    {
        var socket = _app.SocketPath("app.sock");
        await using var cluster = await _app.StartAsync(
            new Dictionary<string, string> { ["Kestrel__Endpoints__Unix__Url"] = $"http://unix:{socket}", ["Cluster__Scheduling"] = scheduling },
            standalonePrimary: Primary(standalone));
        var workers = await cluster.ReadyPidsAsync();

        Assert.Contains($"http://unix:{socket}", cluster.Urls);
        using var client = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var connection = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await connection.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken);
                return new NetworkStream(connection, ownsSocket: true);
            },
        }) { Timeout = TimeSpan.FromSeconds(10) };
        // A new connection each time, so that every worker gets one.
        client.DefaultRequestHeaders.ConnectionClose = true;
        var seen = new HashSet<int>();
        await Poll.UntilAsync(
            async () =>
            {
                seen.Add(int.Parse((await client.GetStringAsync("http://localhost/whoami")).Split(' ')[0]));
                return seen.SetEquals(workers);
            },
            Deadline,
            "answers from both workers over the Unix socket (HttpClient)",
            () => $"seen {string.Join(", ", seen)} of {string.Join(", ", workers)}");

        // The primary owns the file: it goes when the cluster stops, so the next start can bind the path again.
        cluster.Signal(15);
        Assert.Equal(0, await cluster.WaitForExitAsync(Deadline));
        Assert.False(File.Exists(socket), "the socket file left behind");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_http3_endpoint_is_refused_at_start_in_one_line_naming_it(bool standalone)
    {
        await using var cluster = await _app.StartAsync(
            new Dictionary<string, string> { ["Kestrel__Endpoints__Https__Protocols"] = "Http1AndHttp2AndHttp3" }, waitUntilReady: false, standalonePrimary: Primary(standalone));

        var exitCode = await cluster.WaitForExitAsync(Deadline);
        var log = string.Join('\n', cluster.Lines);
        Assert.True(exitCode == 2, $"exit {exitCode}\n{log}");
        var line = Assert.Single(cluster.Lines, line => line.Contains("HTTP/3", StringComparison.Ordinal));
        Assert.StartsWith("Cannot start the cluster: HTTP/3 is not supported by the cluster", line.TrimStart(), StringComparison.Ordinal);
        Assert.Contains($"https://127.0.0.1:{_app.HttpsPort}", line, StringComparison.Ordinal);
        Assert.DoesNotContain(cluster.Lines, line => line.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.Empty(cluster.ChildPids());
    }

    [Fact]
    public async Task A_certificate_that_does_not_load_ends_the_primary_in_one_line_before_any_worker_starts()
    {
        await using var cluster = await _app.StartAsync(
            new Dictionary<string, string> { ["Kestrel__Endpoints__Https__Certificate__Password"] = "wrong" }, waitUntilReady: false);

        var exitCode = await cluster.WaitForExitAsync(Deadline);
        var log = string.Join('\n', cluster.Lines);
        Assert.True(exitCode == 2, $"exit {exitCode}\n{log}");
        var line = Assert.Single(cluster.Lines, line => line.StartsWith("Cannot start the cluster: ", StringComparison.Ordinal));
        Assert.Contains("password", line, StringComparison.Ordinal);
        Assert.DoesNotContain(cluster.Lines, line => line.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.Empty(cluster.ChildPids());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task H2load_over_tls_succeeds_on_every_request_and_no_worker_exits(bool standalone)
    {
        await using var cluster = await _app.StartAsync(standalonePrimary: Primary(standalone));
        var workers = await cluster.ReadyPidsAsync();

        var run = await ProcessRun.RunAsync(
            "h2load", ["-n", "4000", "-c", "16", "-m", "4", $"https://127.0.0.1:{_app.HttpsPort}/whoami"], TimeSpan.FromMinutes(2));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Application protocol: h2", run.Output, StringComparison.Ordinal);
        var requests = Regex.Match(run.Output, @"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored");
        Assert.True(requests.Success, run.ToString());
        Assert.Equal("4000", requests.Groups[2].Value);
        var status = await cluster.StatusAsync();
        Assert.Equal(workers, TestCluster.ReadyPids(status));
        Assert.Equal(0, status.Restarts);
        Assert.DoesNotContain(cluster.Lines, line => line.Contains("exited", StringComparison.Ordinal));
    }

    /// <summary>The app as its own primary, or run by dotnet-cluster run (which reads the same Kestrel:Endpoints from the app's folder).</summary>
    private static string? Primary(bool standalone) => standalone ? ClusterCli.Assembly : null;

    /// <summary>Opens WebSockets (ClientWebSocket, any certificate accepted) until every worker has served one; each must echo a message whole.</summary>
    private static async Task<HashSet<int>> WebSocketPidsAsync(IReadOnlyList<int> workers, string url)
    {
        var seen = new HashSet<int>();
        using var timeout = new CancellationTokenSource(Deadline);
        await Poll.UntilAsync(
            async () =>
            {
                using var socket = new ClientWebSocket();
                socket.Options.RemoteCertificateValidationCallback = (_, _, _, _) => true;
                await socket.ConnectAsync(new Uri(url), timeout.Token);
                var buffer = new byte[256];
                var hello = await socket.ReceiveAsync(buffer, timeout.Token);
                var pid = int.Parse(Encoding.UTF8.GetString(buffer, 0, hello.Count).Split(' ')[1]);
                await socket.SendAsync("echo me"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
                var echo = await socket.ReceiveAsync(buffer, timeout.Token);
                Assert.Equal("echo me", Encoding.UTF8.GetString(buffer, 0, echo.Count));
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
                seen.Add(pid);
                return seen.IsSupersetOf(workers);
            },
            Deadline,
            $"WebSockets served by every worker on {url}",
            () => $"seen {string.Join(", ", seen)} of {string.Join(", ", workers)}");
        return seen;
    }

    /// <summary>Asks until every worker has answered (round-robin reaches each); each answer must be on <paramref name="protocolAndScheme"/>.</summary>
    private static Task<HashSet<int>> AnsweringPidsAsync(IReadOnlyList<int> workers, string url, string protocolAndScheme, params string[] options) =>
        Curl.UntilEveryWorkerAnswersAsync(
            workers,
            url,
            answer =>
            {
                var words = answer.Body.Split(' ', 2);
                Assert.Equal(protocolAndScheme, words[1]);
                return int.Parse(words[0]);
            },
            options);
}
