using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using ProcessCluster.Control;
using ProcessCluster.Primary;
using ProcessCluster.Telemetry;

namespace ProcessCluster.AspNetCore.Admin;

/// <summary>
/// The primary's admin endpoint (Cluster:AdminUrl): the live dashboard at /, Prometheus metrics at /metrics (the
/// OpenTelemetry exporter), /healthz/live and /healthz/ready for orchestrators, and /api/status (the same JSON as `dotnet cluster status --json`). A small Kestrel of its
/// own, apart from the app's ports; it requires Cluster:AdminToken as a bearer token when one is set (never in a URL,
/// where request logs would keep it: the dashboard page itself holds no data and takes the token from its address's
/// #fragment). It answers only requests for its own host names (DNS rebinding) and forbids framing and referrers. The app
/// as primary runs it as a hosted service; dotnet-cluster run starts and stops it itself.
/// </summary>
internal sealed class AdminServer(ClusterPrimary primary, ClusterOptions options, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    public const string LivePath = "/healthz/live";
    public const string ReadyPath = "/healthz/ready";
    public const string MetricsPath = "/metrics";

    private readonly ILogger _logger = loggerFactory.CreateLogger("ProcessCluster.Admin");
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.AdminUrl is not { } url)
        {
            return;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        // The builder reads the app's configuration too: its Kestrel:Endpoints are the app's (the workers'), not this endpoint's.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Configure(new ConfigurationBuilder().Build()));
        builder.Logging.ClearProviders();
        builder.Services.Replace(ServiceDescriptor.Singleton(loggerFactory));
        // The app's host owns the process's signals and lifetime; this one only follows it.
        builder.Services.AddSingleton<IHostLifetime, FollowerLifetime>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(ClusterMetrics.MeterName).AddPrometheusExporter());
        var app = builder.Build();
        var dashboard = Dashboard();
        var policy = ContentSecurityPolicy(dashboard);
        var hosts = AllowedHosts(url);
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = policy;
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XContentTypeOptions = "nosniff";
            return hosts is null || hosts.Contains(context.Request.Host.Host) || IsHealthProbe(context.Request) ? next(context) : Refuse(context, StatusCodes.Status400BadRequest);
        });
        if (options.ReadAdminToken() is { Length: > 0 } token)
        {
            app.Use((context, next) => IsDashboardPage(context.Request) || IsHealthProbe(context.Request) || Authorized(context.Request, token) ? next(context) : Refuse(context, StatusCodes.Status401Unauthorized));
        }

        app.UseWhen(context => context.Request.Path == MetricsPath, metrics => metrics.Use((context, next) => WorkerHttpMetricsText.AppendAsync(context, next, () => primary.Workers)));
        app.MapPrometheusScrapingEndpoint(MetricsPath);
        app.MapGet("/api/status", () => Results.Json(primary.GetStatus(), ControlJson.Default.ClusterStatus));
        app.MapGet("/", () => Results.Text(dashboard, "text/html; charset=utf-8"));
        app.MapGet(LivePath, () => primary.GetHealth() is { Live: true } ? Results.Text("live") : Results.Text("not live: the supervisor loop is not turning", statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapGet(ReadyPath, () => primary.GetHealth() is { NotReadyBecause: { } why } ? Results.Text($"not ready: {why}", statusCode: StatusCodes.Status503ServiceUnavailable) : Results.Text("ready"));
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        _logger.Listening(string.Join(", ", app.Urls));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static bool Authorized(HttpRequest request, string token)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header["Bearer ".Length..]), Encoding.UTF8.GetBytes(token));
    }

    /// <summary>
    /// Kubernetes probes and load balancers send no token and use whatever Host they reach the pod by; these two paths
    /// say only live/ready (and why not), nothing an attacker could use, so neither the token nor the host check applies.
    /// </summary>
    private static bool IsHealthProbe(HttpRequest request) => request.Path == LivePath || request.Path == ReadyPath;

    /// <summary>The page is the same for everyone and holds no data; a browser cannot send a header when it opens it.</summary>
    private static bool IsDashboardPage(HttpRequest request) =>
        request.Path == "/" && (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method));

    private static Task Refuse(HttpContext context, int status)
    {
        context.Response.StatusCode = status;
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// The Host names a browser may use to reach this endpoint: each literal address it binds, and the loopback names
    /// for a loopback one. A page on another name that resolves here (DNS rebinding) is refused. Null (any name) when an
    /// address binds every interface: the machine's names are not known, and a token is required there.
    /// </summary>
    private static HashSet<string>? AllowedHosts(string url)
    {
        var hosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var endpoint in ClusterEndpoint.ParseUrls([url]))
        {
            if (endpoint.EndPoint is not IPEndPoint { Address: var address })
            {
                continue;
            }

            if (address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Any))
            {
                return null;
            }

            hosts.Add(address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString());
            if (IPAddress.IsLoopback(address))
            {
                hosts.UnionWith(["localhost", "127.0.0.1", "[::1]"]);
            }
        }

        return hosts;
    }

    /// <summary>Only the page's own inline script and style may run (by hash), and it may talk only to this endpoint.</summary>
    private static string ContentSecurityPolicy(string page) =>
        $"default-src 'none'; script-src '{InlineHash(page, "script")}'; style-src '{InlineHash(page, "style")}'; " +
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static string InlineHash(string page, string element)
    {
        var start = page.IndexOf($"<{element}>", StringComparison.Ordinal) + element.Length + 2;
        var end = page.IndexOf($"</{element}>", start, StringComparison.Ordinal);
        return "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(page[start..end])));
    }

    private static string Dashboard()
    {
        using var stream = typeof(AdminServer).Assembly.GetManifestResourceStream("dashboard.html")
            ?? throw new InvalidOperationException("the dashboard page is missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private sealed class FollowerLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
