using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using ProcessCluster.Ipc;
using ProcessCluster.Primary;

namespace ProcessCluster.AspNetCore.Admin;

/// <summary>
/// The workers' own HTTP metrics (ASP.NET Core's Kestrel and Hosting meters, as each worker last reported them) as
/// Prometheus text with a <c>worker</c> label, named as OpenTelemetry's Prometheus exporter names those instruments.
/// Written here rather than through a meter: the OpenTelemetry SDK cannot take a histogram already bucketed, and a
/// worker that has exited must leave no series behind.
/// </summary>
internal static class WorkerHttpMetricsText
{
    private const string EndOfOpenMetrics = "# EOF\n";

    /// <summary>
    /// Middleware for the scraping path: the exporter writes into a buffer, and the workers' series are added to what it
    /// wrote (before OpenMetrics' closing line, which must stay last).
    /// </summary>
    public static async Task AppendAsync(HttpContext context, RequestDelegate next, Func<IEnumerable<WorkerHandle>> workers)
    {
        var body = context.Response.Body;
        using var exported = new MemoryStream();
        context.Response.Body = exported;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            context.Response.Body = body;
        }

        var text = Encoding.UTF8.GetString(exported.GetBuffer(), 0, (int)exported.Length);
        if (context.Response.StatusCode == StatusCodes.Status200OK)
        {
            text = text.EndsWith(EndOfOpenMetrics, StringComparison.Ordinal)
                ? string.Concat(text.AsSpan(0, text.Length - EndOfOpenMetrics.Length), Render(workers()), EndOfOpenMetrics)
                : text + Render(workers());
        }

        context.Response.ContentLength = null;
        await context.Response.WriteAsync(text, context.RequestAborted).ConfigureAwait(false);
    }

    public static string Render(IEnumerable<WorkerHandle> workers)
    {
        var reported = workers.Where(worker => worker.HttpMetrics is not null).Select(worker => (worker.Id, Metrics: worker.HttpMetrics!)).ToList();
        if (reported.Count == 0)
        {
            return "";
        }

        var text = new StringBuilder();
        Gauge(text, reported, "kestrel_active_connections", "Connections the worker's Kestrel has open", metrics => metrics.ActiveConnections);
        Gauge(text, reported, "http_server_active_requests", "Requests the worker's app is serving", metrics => metrics.ActiveRequests);
        Histogram(text, reported, "http_server_request_duration_seconds", "Duration of the worker's HTTP requests", HttpMetricsFormat.RequestDurationBoundaries, metrics => metrics.RequestDuration);
        Histogram(text, reported, "kestrel_connection_duration_seconds", "Duration of the worker's connections", HttpMetricsFormat.ConnectionDurationBoundaries, metrics => metrics.ConnectionDuration);
        return text.ToString();
    }

    private static void Gauge(StringBuilder text, List<(int Id, WorkerHttpMetrics Metrics)> reported, string name, string help, Func<WorkerHttpMetrics, long> read)
    {
        Header(text, name, "gauge", help);
        foreach (var (id, metrics) in reported)
        {
            text.Append(CultureInfo.InvariantCulture, $"{name}{{worker=\"{id}\"}} {read(metrics)}\n");
        }
    }

    private static void Histogram(
        StringBuilder text, List<(int Id, WorkerHttpMetrics Metrics)> reported, string name, string help, IReadOnlyList<double> boundaries, Func<WorkerHttpMetrics, HistogramSnapshot> read)
    {
        Header(text, name, "histogram", help);
        foreach (var (id, metrics) in reported)
        {
            var histogram = read(metrics);
            var cumulative = 0L;
            for (var bucket = 0; bucket < histogram.Counts.Length; bucket++)
            {
                cumulative += histogram.Counts[bucket];
                var le = bucket < boundaries.Count ? boundaries[bucket].ToString(CultureInfo.InvariantCulture) : "+Inf";
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{worker=\"{id}\",le=\"{le}\"}} {cumulative}\n");
            }

            text.Append(CultureInfo.InvariantCulture, $"{name}_sum{{worker=\"{id}\"}} {histogram.Sum.ToString("R", CultureInfo.InvariantCulture)}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_count{{worker=\"{id}\"}} {cumulative}\n");
        }
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");
}
