using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ProcessCluster.Interop;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// Ends the in-app primary on a start-up failure (<see cref="ClusterConfiguration.IsStartFailure"/>: a taken port, an
/// address that does not parse) as dotnet-cluster run does: one line naming the cause, then
/// <see cref="ClusterExitCodes.InvalidConfiguration"/>. Thrown on, the failure would be logged by the host with its
/// stack trace and then abort the process (exit 134).
/// </summary>
internal static class StartFailureExit
{
    /// <summary>
    /// Exits at once, without managed shutdown: the host is still starting, so a graceful exit would wait for it.
    /// Nothing of the cluster runs yet that this would leave behind (no worker, no control socket).
    /// </summary>
    public static void Exit(Exception error)
    {
        Console.Error.WriteLine($"Cannot start the cluster: {error.Message}");
        ProcessInterop.ExitImmediately(ClusterExitCodes.InvalidConfiguration);
    }

    /// <summary>A hosted service of the primary (the admin endpoint) whose start-up failure ends the process that way.</summary>
    public sealed class Guarded(IHostedService service) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            try
            {
                await service.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error) when (ClusterConfiguration.IsStartFailure(error))
            {
                Exit(error);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => service.StopAsync(cancellationToken);
    }

    /// <summary>
    /// The logger factory for a host the primary starts inside itself (the admin endpoint's): that host's own
    /// "Hosting failed to start", stack trace and all, is not written, because the same exception reaches the caller,
    /// which says it in one line. Every other category passes through.
    /// </summary>
    public sealed class InnerHostLogging(ILoggerFactory loggerFactory) : ILoggerFactory
    {
        private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

        public ILogger CreateLogger(string categoryName) =>
            categoryName == HostCategory ? NullLogger.Instance : loggerFactory.CreateLogger(categoryName);

        public void AddProvider(ILoggerProvider provider) => loggerFactory.AddProvider(provider);

        /// <summary>The factory wrapped belongs to the primary's host, which disposes it.</summary>
        public void Dispose()
        {
        }
    }
}
