using System.Globalization;
using ProcessCluster.Control;
using ProcessCluster.Primary;

namespace ProcessCluster.Cli;

/// <summary>`dotnet cluster status` for people: a summary line and one row per worker.</summary>
internal static class StatusTable
{
    public static string Render(ClusterStatus status)
    {
        var sizing = status.Autoscaling ? $"autoscaling {status.MinWorkers}..{status.MaxWorkers}" : "fixed";
        var lines = new List<string>
        {
            $"primary {status.Pid}, up {Duration(status.UptimeSeconds)}, {status.Scheduling} scheduling ({status.Dispatch} dispatch), "
                + $"{status.DesiredWorkers} workers desired ({sizing}), {status.Restarts} restarts, {status.QueuedConnections} connections queued",
            $"listening on {string.Join(", ", status.Urls)}",
            string.Empty,
        };
        string[] header = ["ID", "PID", "STATE", "UPTIME", "RESTARTS", "CPU %", "RSS MiB", "REQUESTS", "IN FLIGHT", "BUSY"];
        var rows = status.Workers.Select(worker => new[]
        {
            worker.Id.ToString(CultureInfo.InvariantCulture),
            worker.Pid.ToString(CultureInfo.InvariantCulture),
            worker.State.ToString().ToLowerInvariant() + (worker.StopReason is { } reason ? $" ({reason.Describe()})" : string.Empty),
            Duration(worker.UptimeSeconds),
            worker.Restarts.ToString(CultureInfo.InvariantCulture),
            worker.CpuPercent?.ToString("0.0", CultureInfo.InvariantCulture) ?? "-",
            worker.ResidentBytes > 0 ? (worker.ResidentBytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) : "-",
            worker.Requests.ToString(CultureInfo.InvariantCulture),
            worker.InFlight.ToString(CultureInfo.InvariantCulture),
            worker.BusyFraction?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-",
        }).ToList();
        var widths = header.Select((title, column) => rows.Select(row => row[column].Length).Append(title.Length).Max()).ToArray();
        lines.AddRange(rows.Prepend(header).Select(row => string.Join("  ", row.Select((cell, column) => cell.PadRight(widths[column]))).TrimEnd()));
        return string.Join(Environment.NewLine, lines);
    }

    private static string Duration(double seconds) => TimeSpan.FromSeconds(seconds) switch
    {
        { TotalDays: >= 1 } span => $"{(int)span.TotalDays}d{span.Hours}h",
        { TotalHours: >= 1 } span => $"{(int)span.TotalHours}h{span.Minutes}m",
        { TotalMinutes: >= 1 } span => $"{(int)span.TotalMinutes}m{span.Seconds}s",
        var span => $"{span.TotalSeconds:0}s",
    };
}
