using Microsoft.Extensions.Logging;

namespace ProcessCluster.Cli;

/// <summary>The log lines of dotnet-cluster run's own primary (event ids 300–319; the lines it shares with the lean primary are in SupervisorRunLog).</summary>
internal static partial class StandalonePrimaryLog
{
    [LoggerMessage(300, LogLevel.Critical, "Cannot start the cluster: '{Program}' is not on PATH")]
    public static partial void ProgramNotFound(this ILogger logger, string program);

    [LoggerMessage(304, LogLevel.Warning, "Overriding the URLs '{Urls}': serving the app's Kestrel:Endpoints instead, as Kestrel does")]
    public static partial void EndpointsOverrideUrls(this ILogger logger, string urls);

    [LoggerMessage(310, LogLevel.Warning, "Cluster:AdminToken is on the command line, where any local user can read it (/proc/PID/cmdline): use Cluster:AdminTokenFile")]
    public static partial void AdminTokenOnCommandLine(this ILogger logger);
}
