using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// Ties the worker's host to the primary: once the app has started (Kestrel listening) the worker reports ready, and when it
/// begins to shut down, for whatever reason, it says so and gets no more connections;
/// when the primary asks it to stop, the host shuts down gracefully.
/// </summary>
internal sealed class WorkerLifecycle(ClusterWorker worker, IServer server, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        worker.DisconnectRequested += (_, _) => lifetime.StopApplication();
        lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
            worker.ReportListening(addresses);
        });
        lifetime.ApplicationStopping.Register(worker.ReportStopping);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
