using Microsoft.Extensions.Logging;

namespace ProcessCluster.AspNetCore.Admin;

/// <summary>The admin endpoint's log lines (event ids 200–219).</summary>
internal static partial class AdminLog
{
    [LoggerMessage(200, LogLevel.Information, "Admin endpoint on {Url}: dashboard /, metrics /metrics, status /api/status")]
    public static partial void Listening(this ILogger logger, string url);
}
