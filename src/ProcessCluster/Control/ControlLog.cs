using Microsoft.Extensions.Logging;

namespace ProcessCluster.Control;

/// <summary>The log lines of the control socket and the cluster's signals (event ids 100–119).</summary>
internal static partial class ControlLog
{
    [LoggerMessage(100, LogLevel.Information, "Control command: {Request}")]
    public static partial void Command(this ILogger logger, string request);

    [LoggerMessage(101, LogLevel.Warning, "Refused a control connection from uid {Uid}: only uid {Allowed} may control this cluster")]
    public static partial void ConnectionRefused(this ILogger logger, uint uid, uint allowed);

    [LoggerMessage(102, LogLevel.Debug, "A control connection ended early: {Error}")]
    public static partial void ConnectionEndedEarly(this ILogger logger, string error);

    // The exception goes with the line: a failing command is a bug to trace.
    [LoggerMessage(103, LogLevel.Error, "A control command failed")]
    public static partial void CommandFailed(this ILogger logger, Exception error);

    [LoggerMessage(104, LogLevel.Debug, "A control client left before its reply: {Error}")]
    public static partial void ClientLeft(this ILogger logger, string error);

    [LoggerMessage(105, LogLevel.Warning, "Could not remove the control socket {Path}: {Error}")]
    public static partial void SocketNotRemoved(this ILogger logger, string path, string error);

    [LoggerMessage(110, LogLevel.Information, "SIGHUP: rolling reload")]
    public static partial void ReloadSignal(this ILogger logger);

    [LoggerMessage(111, LogLevel.Information, "SIG{Signal}: one worker {More} (autoscaling off)")]
    public static partial void ResizeSignal(this ILogger logger, string signal, string more);

    [LoggerMessage(112, LogLevel.Warning, "SIGQUIT: fast stop")]
    public static partial void FastStopSignal(this ILogger logger);

    [LoggerMessage(113, LogLevel.Information, "SIGUSR2: upgrading the primary in place")]
    public static partial void UpgradeSignal(this ILogger logger);

    [LoggerMessage(114, LogLevel.Warning, "SIGUSR2 while stopping: no upgrade")]
    public static partial void UpgradeWhileStopping(this ILogger logger);

    [LoggerMessage(115, LogLevel.Warning, "SIGUSR2 ignored: upgrade already in progress")]
    public static partial void UpgradeAlreadyInProgress(this ILogger logger);
}
