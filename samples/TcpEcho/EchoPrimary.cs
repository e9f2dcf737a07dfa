using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using ProcessCluster;
using ProcessCluster.Control;
using ProcessCluster.Primary;

namespace TcpEcho;

/// <summary>
/// The primary: opens the endpoints, starts the workers and supervises them (restarts, reloads, scaling, the control
/// socket for dotnet-cluster, gunicorn's signals); TERM or INT drain the workers and exit (0 when all finished).
/// </summary>
internal static class EchoPrimary
{
    public static async Task<int> RunAsync(ClusterOptions options, IReadOnlyList<ClusterEndpoint> endpoints, ILoggerFactory loggerFactory)
    {
        var logger = loggerFactory.CreateLogger("TcpEcho.Primary");
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            logger.LogCritical("Invalid cluster configuration: {Errors}", string.Join("; ", errors));
            return ClusterExitCodes.InvalidConfiguration;
        }

        var stop = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var primary = new ClusterPrimary(options, loggerFactory);
        primary.ShutdownRequested += (_, _) => stop.TrySetResult(ClusterExitCodes.Stopped);
        primary.Failed += (_, _) => stop.TrySetResult(ClusterExitCodes.WorkersCannotStart);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        primary.Start(endpoints);
        using var signals = new ClusterSignals(primary, logger);
        logger.LogInformation("TcpEcho primary {Pid} on {Urls}", Environment.ProcessId, string.Join(", ", primary.Urls));

        var exitCode = await stop.Task;
        var drained = await primary.StopAsync(CancellationToken.None);
        return exitCode != ClusterExitCodes.Stopped ? exitCode : drained ? ClusterExitCodes.Stopped : ClusterExitCodes.DrainIncomplete;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult(ClusterExitCodes.Stopped);
        }
    }
}
