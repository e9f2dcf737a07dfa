using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ProcessCluster.SignalR;

// In the namespace of AddSignalR, as the Redis backplane's AddStackExchangeRedis is: found without a using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>SignalR across the cluster's workers.</summary>
public static class ClusterBackplaneExtensions
{
    /// <summary>
    /// Makes every hub span the cluster's workers: <c>Clients.All</c>, groups, users, single connections and group
    /// membership reach the clients of every worker, relayed through the primary (no Redis), in the order each worker
    /// sent them. In a worker it also issues connection tokens that name the worker, so that with
    /// <c>Cluster:Affinity=ConnectionToken</c> every request of a connection (negotiate, then WebSockets, Server-Sent
    /// Events or long polling) reaches the worker that holds it. Outside a cluster (or in the primary) hubs work as with
    /// SignalR's default, on this process alone.
    /// </summary>
    public static ISignalRServerBuilder AddClusterBackplane(this ISignalRServerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<BackplaneLink>();
        builder.Services.AddSingleton(typeof(HubLifetimeManager<>), typeof(ClusterHubLifetimeManager<>));
        builder.Services.AddTransient<IStartupFilter, ConnectionTokenStartupFilter>();
        return builder;
    }
}
