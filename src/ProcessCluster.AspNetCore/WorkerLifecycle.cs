using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// Ties the worker's host to the primary: once the app has started (Kestrel listening) and has served its warm-up
/// request, if it has one, the worker reports ready, and when it begins to shut down, for whatever reason, it says so
/// and gets no more connections. When the primary asks it to
/// stop, it first lets clients close their connections after a last response (<see cref="WorkerDrain"/>), then the
/// host shuts down gracefully.
/// </summary>
internal sealed class WorkerLifecycle(
    ClusterWorker worker,
    ClusterOptions options,
    WorkerDrain drain,
    IServer server,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggerFactory) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Cluster.Started(worker);
        lifetime.ApplicationStopped.Register(() => Cluster.Stopped(worker));
        // A drain closes the server's listeners, so it waits for the server to start. A request that came earlier
        // (the primary may ask at any time after the handshake) is not lost: the handler, attached late, runs at once.
        lifetime.ApplicationStarted.Register(() =>
        {
            worker.DisconnectRequested += (_, _) => _ = DrainAsync();
            _ = ReportListeningAsync();
        });
        lifetime.ApplicationStopping.Register(worker.ReportStopping);
        return Task.CompletedTask;
    }

    private async Task ReportListeningAsync()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
        var inbox = worker.Endpoints.FirstOrDefault(endpoint => endpoint.Inbox is not null)?.Inbox;
        if (inbox is not null)
        {
            // Health probes (Cluster:WorkerHealthPath) take the same way in as the warm-up.
            worker.SelfRequest = (path, timeout) => SelfRequest.StatusAsync(inbox, path, timeout);
        }

        if (!string.IsNullOrEmpty(options.WarmupPath) && inbox is not null)
        {
            // Half the ready timeout at most, so a slow warm-up still leaves the worker time to report.
            await WorkerWarmup.RunAsync(inbox, options.WarmupPath, options.ReadyTimeout / 2, loggerFactory.CreateLogger("ProcessCluster.Worker"), lifetime.ApplicationStopping).ConfigureAwait(false);
        }

        if (!lifetime.ApplicationStopping.IsCancellationRequested && !worker.IsDisconnectRequested)
        {
            worker.ReportListening(addresses);
        }
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
