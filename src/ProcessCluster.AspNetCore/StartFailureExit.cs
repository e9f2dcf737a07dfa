using Microsoft.Extensions.Hosting;
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
}
