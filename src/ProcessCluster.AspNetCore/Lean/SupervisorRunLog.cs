using Microsoft.Extensions.Logging;

namespace ProcessCluster.AspNetCore;

/// <summary>The log lines of a primary without an app's host: dotnet-cluster run's and the lean in-app primary's (event ids 301–303, 320–329).</summary>
internal static partial class SupervisorRunLog
{
    [LoggerMessage(301, LogLevel.Critical, "Cannot start the cluster: {Reason}")]
    public static partial void CannotStart(this ILogger logger, string reason);

    [LoggerMessage(302, LogLevel.Information, "{Signal}: graceful stop")]
    public static partial void GracefulStop(this ILogger logger, System.Runtime.InteropServices.PosixSignal signal);

    [LoggerMessage(303, LogLevel.Warning, "{Signal} again: fast stop")]
    public static partial void FastStop(this ILogger logger, System.Runtime.InteropServices.PosixSignal signal);

    [LoggerMessage(320, LogLevel.Information, "Handing over to a lean primary: pid {Pid} re-executes itself with {Endpoints} listening socket(s) and the resolved settings")]
    public static partial void HandingOver(this ILogger logger, int pid, int endpoints);

    [LoggerMessage(321, LogLevel.Warning, "Cluster:LeanPrimary could not hand over ({Reason}); this process goes on as the in-app primary")]
    public static partial void HandOverFailed(this ILogger logger, string reason);

    [LoggerMessage(322, LogLevel.Information, "Cluster:LeanPrimary is ignored: {Reason}")]
    public static partial void LeanPrimaryIgnored(this ILogger logger, string reason);

    [LoggerMessage(323, LogLevel.Information, "Lean primary: pid {Pid} runs the supervisor alone on {Endpoints} listening socket(s) handed over by the app's host")]
    public static partial void LeanPrimaryRunning(this ILogger logger, int pid, int endpoints);
}
