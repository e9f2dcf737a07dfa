using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using ProcessCluster.AspNetCore.Admin;
using ProcessCluster.Control;
using ProcessCluster.Primary;
using ProcessCluster.Telemetry;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// The supervisor alone, without an app's host: what dotnet-cluster run and the lean in-app primary
/// (<see cref="ClusterOptions.LeanPrimary"/>) run once they have their settings and endpoints. The console log by the
/// "Logging" section and Cluster:LogFormat, the admin endpoint, the cluster's signals, and a drain on TERM or INT.
/// </summary>
internal static class SupervisorRun
{
    /// <summary>The console log, filtered by <paramref name="logging"/> (a "Logging" section), as text or JSON lines.</summary>
    public static ILoggerFactory CreateLogging(IConfiguration logging, LogFormat format) => LoggerFactory.Create(builder =>
    {
        builder.AddConfiguration(logging);
        if (format == LogFormat.Json)
        {
            builder.AddClusterJsonConsole();
        }
        else
        {
            builder.AddSimpleConsole();
        }
    });

    /// <summary>
    /// Starts the admin endpoint, then the cluster (<paramref name="start"/>), and runs it until a stop; returns the
    /// process's exit code (<see cref="ClusterExitCodes"/>).
    /// </summary>
    public static async Task<int> RunAsync(ClusterPrimary primary, ILoggerFactory loggerFactory, ILogger logger, Action start)
    {
        var stopRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var exitCode = ClusterExitCodes.Stopped;
        primary.ShutdownRequested += (_, _) => stopRequested.TrySetResult();
        primary.Failed += (_, _) =>
        {
            exitCode = ClusterExitCodes.WorkersCannotStart;
            stopRequested.TrySetResult();
        };

        // TERM and INT drain the workers; a second one while they drain kills them (gunicorn's quick shutdown).
        void OnStopSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (stopRequested.Task.IsCompleted)
            {
                logger.FastStop(context.Signal);
                primary.RequestShutdown(fast: true);
            }
            else
            {
                logger.GracefulStop(context.Signal);
                stopRequested.TrySetResult();
            }
        }

        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStopSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStopSignal);
        await using var admin = primary.Options.AdminUrl is null ? null : NewAdmin(primary, loggerFactory);
        try
        {
            // The admin endpoint first: if its address is taken, no worker has been started yet.
            if (admin is not null)
            {
                await admin.StartAsync(CancellationToken.None).ConfigureAwait(false);
            }

            start();
            Cluster.Started(primary);
        }
        catch (Exception error) when (ClusterConfiguration.IsStartFailure(error))
        {
            logger.CannotStart(error.Message);
            return ClusterExitCodes.InvalidConfiguration;
        }

        using var signals = new ClusterSignals(primary, logger);
        await stopRequested.Task.ConfigureAwait(false);
        var drained = await primary.StopAsync(CancellationToken.None).ConfigureAwait(false);
        Cluster.Stopped(primary);
        if (admin is not null)
        {
            await admin.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return exitCode != ClusterExitCodes.Stopped ? exitCode : drained ? ClusterExitCodes.Stopped : ClusterExitCodes.DrainIncomplete;
    }

    /// <summary>
    /// The admin endpoint is a Kestrel of its own: apart, so that its assemblies are loaded only when Cluster:AdminUrl
    /// asks for one (a lean primary without it maps no ASP.NET Core assembly).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static AdminServer NewAdmin(ClusterPrimary primary, ILoggerFactory loggerFactory) =>
        new(primary, primary.Options, new StartFailureExit.InnerHostLogging(loggerFactory));
}
