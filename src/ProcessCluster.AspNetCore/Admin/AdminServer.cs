using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
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
/// OpenTelemetry exporter), and /api/status (the same JSON as `dotnet cluster status --json`). A small Kestrel of its
/// own, apart from the app's ports; it requires Cluster:AdminToken as a bearer token (or ?token= for a browser) when
/// one is set. The app as primary runs it as a hosted service; dotnet-cluster run starts and stops it itself.
/// </summary>
internal sealed class AdminServer(ClusterPrimary primary, ClusterOptions options, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
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
        builder.Logging.ClearProviders();
        builder.Services.Replace(ServiceDescriptor.Singleton(loggerFactory));
        // The app's host owns the process's signals and lifetime; this one only follows it.
        builder.Services.AddSingleton<IHostLifetime, FollowerLifetime>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(ClusterMetrics.MeterName).AddPrometheusExporter());
        var app = builder.Build();
        if (options.AdminToken is { Length: > 0 } token)
        {
            app.Use((context, next) => Authorized(context.Request, token) ? next(context) : Unauthorized(context));
        }

        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/api/status", () => Results.Json(primary.GetStatus(), ControlJson.Default.ClusterStatus));
        var dashboard = Dashboard();
        app.MapGet("/", () => Results.Text(dashboard, "text/html; charset=utf-8"));
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
        var given = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..] : request.Query["token"].ToString();
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(token));
    }

    private static Task Unauthorized(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return Task.CompletedTask;
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
