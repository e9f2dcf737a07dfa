using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;
using ProcessCluster.Primary;

namespace ProcessCluster.Control;

/// <summary>
/// gunicorn's signals on the primary: HUP reloads, TTIN adds a worker, TTOU removes one, QUIT stops fast, USR2
/// re-executes the primary in place with the build on disk (nginx's and Unicorn's upgrade signal). TERM and INT
/// (graceful stop) belong to the host. Each handler only queues its command, so a signal never blocks. The hosts here
/// install them; a primary of an app's own (a socket server's) creates one after <see cref="ClusterPrimary.Start"/>.
/// </summary>
public sealed class ClusterSignals : IDisposable
{
    private readonly PosixSignalRegistration[] _registrations;

    /// <summary>Steers <paramref name="primary"/> by HUP, TTIN, TTOU and QUIT until disposed; logs each signal to <paramref name="logger"/>.</summary>
    public ClusterSignals(ClusterPrimary primary, ILogger logger)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("TTIN, TTOU and QUIT are POSIX signals");
        }

        // The only call for a primary of an app's own (QUIT is taken only if the runtime's signal handling has not started)
        // and for a lean primary (USR2, ignored across its exec).
        CatchIgnored();

        _registrations =
        [
            Register(PosixSignal.SIGHUP, () =>
            {
                logger.ReloadSignal();
                _ = primary.ReloadAsync(CancellationToken.None);
            }),
            Register(PosixSignal.SIGTTIN, () => Resize(primary, logger, +1)),
            Register(PosixSignal.SIGTTOU, () => Resize(primary, logger, -1)),
            Register(PosixSignal.SIGQUIT, () =>
            {
                logger.FastStopSignal();
                primary.RequestShutdown(fast: true);
            }),
            Register((PosixSignal)SignalNames.SIGUSR2, () =>
            {
                // The exec of the new program drops one that comes later, until that program handles it (InPlaceUpgrade).
                if (primary.UpgradeUnderWay)
                {
                    logger.UpgradeAlreadyInProgress();
                    return;
                }

                logger.UpgradeSignal();
                _ = UpgradeAsync(primary, logger);
            }),
        ];
    }

    /// <summary>
    /// A process can start with the cluster's signals ignored (a shell's background job has QUIT ignored, nohup HUP, an
    /// in-place upgrade's exec leaves USR2 so), and the runtime never takes an ignored signal: it looks at each once,
    /// QUIT when its signal handling starts (the first console write, Process or signal registration: the host's console
    /// lifetime, say), the others at their first registration. So each way a primary starts calls this first thing: the
    /// in-app primary (UseCluster), dotnet-cluster run, and this constructor for a primary of an app's own and for a lean
    /// primary (its exec from the in-app primary leaves USR2 ignored, see HandoverExec; the others at their defaults).
    /// </summary>
    internal static void CatchIgnored()
    {
        foreach (var signal in (int[])[SignalNames.SIGHUP, SignalNames.SIGQUIT, SignalNames.SIGTTIN, SignalNames.SIGTTOU, SignalNames.SIGUSR2])
        {
            ProcessInterop.CatchIfIgnored(signal);
        }
    }

    /// <summary>When the upgrade happens, this process runs the new build; otherwise the reason is logged (by the supervisor) and nothing changed.</summary>
    private static async Task UpgradeAsync(ClusterPrimary primary, ILogger logger)
    {
        try
        {
            await primary.UpgradeAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            logger.UpgradeWhileStopping();
        }
    }

    private static void Resize(ClusterPrimary primary, ILogger logger, int change)
    {
        logger.ResizeSignal(change > 0 ? "TTIN" : "TTOU", change > 0 ? "more" : "fewer");
        primary.ScaleBy(change);
    }

    /// <summary>Cancelling the default action keeps the signal from stopping or suspending the process.</summary>
    private static PosixSignalRegistration Register(PosixSignal signal, Action action) =>
        PosixSignalRegistration.Create(signal, context =>
        {
            context.Cancel = true;
            action();
        });

    /// <summary>Gives the signals back to their default handling.</summary>
    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }
}
