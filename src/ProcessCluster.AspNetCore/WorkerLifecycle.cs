using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// Ties the worker's host to the primary: once the app has started (Kestrel listening) the worker reports ready, and when it
/// begins to shut down, for whatever reason, it says so and gets no more connections. When the primary asks it to
/// stop, it first lets clients close their connections after a last response (<see cref="WorkerDrain"/>), then the
/// host shuts down gracefully.
/// </summary>
internal sealed class WorkerLifecycle(ClusterWorker worker, WorkerDrain drain, IServer server, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        worker.DisconnectRequested += (_, _) => _ = DrainAsync();
        lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
            worker.ReportListening(addresses);
        });
        lifetime.ApplicationStopping.Register(worker.ReportStopping);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task DrainAsync()
    {
        try
        {
            worker.ReportStopping();
            await drain.CloseConnectionsAsync(lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The host is already stopping for another reason.
        }
        finally
        {
            lifetime.StopApplication();
        }
    }
}
