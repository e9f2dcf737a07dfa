using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProcessCluster.Control;
using ProcessCluster.Primary;
using ProcessCluster.Telemetry;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>The one call that makes an ASP.NET Core app a cluster: <c>builder.UseCluster()</c>.</summary>
public static class ClusterBuilderExtensions
{
    /// <summary>
    /// Makes this app a cluster. Started normally, the process becomes the primary: it listens on the app's URLs and
    /// starts <see cref="ClusterOptions.Workers"/> copies of itself, serving nothing itself. In those copies the same
    /// call makes Kestrel serve the connections the primary provides. Settings come from the "Cluster" section, then
    /// <paramref name="configure"/>, then any <c>Configure&lt;ClusterOptions&gt;</c>, and are checked when the app is built and started:
    /// settings the cluster cannot run with end the process with exit code 2. Cluster:Enabled and Cluster:LogFormat
    /// choose what this call registers, so only the configuration and <paramref name="configure"/> set them; with
    /// Cluster:Enabled=false the app runs as one plain Kestrel process.
    /// </summary>
    public static WebApplicationBuilder UseCluster(this WebApplicationBuilder builder, Action<ClusterOptions>? configure = null)
    {
        var options = builder.Services.AddClusterOptions();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        InvalidConfigurationExit.Install();
        // Internal consumers take the settings in force, after every Configure.
        builder.Services.AddSingleton(services => services.GetRequiredService<IOptions<ClusterOptions>>().Value);
        var early = ClusterConfiguration.ReadEarly(builder.Configuration, configure);
        if (!early.Enabled)
        {
            return builder;
        }

        if (Cluster.IsPrimary)
        {
            // Here, not in ClusterSignals: the host's console lifetime starts the runtime's signal handling before it.
            ClusterSignals.CatchIgnored();
            if (early.LogFormat == LogFormat.Json)
            {
                builder.Logging.AddClusterJsonConsole();
            }

            builder.Services.AddOptions<HostOptions>().Configure<ClusterOptions>((host, cluster) => host.ShutdownTimeout = cluster.DrainTimeout + TimeSpan.FromSeconds(10));
            builder.Services.AddSingleton(services => new ClusterPrimary(
                services.GetRequiredService<ClusterOptions>(), services.GetRequiredService<ILoggerFactory>(), meterFactory: services.GetService<IMeterFactory>()));
            UseKestrelOnPrimaryTransport(builder.Services);
            builder.Services.AddSingleton<IStartupFilter, PrimaryPipelineSkip>();
            builder.Services.AddSingleton(services => new Admin.AdminServer(
                services.GetRequiredService<ClusterPrimary>(),
                services.GetRequiredService<ClusterOptions>(),
                new StartFailureExit.InnerHostLogging(services.GetRequiredService<ILoggerFactory>())));
            builder.Services.AddHostedService(services => new StartFailureExit.Guarded(services.GetRequiredService<Admin.AdminServer>()));
        }
        else
        {
            builder.Services.AddSingleton(services => ClusterWorker.Connect(
                WorkerEnvironment.Current!,
                services.GetRequiredService<ClusterOptions>().MaxMessageBytes,
                services.GetRequiredService<ILoggerFactory>().CreateLogger("ProcessCluster.Worker")));
            builder.Services.AddSingleton<WebSockets.WebSocketConnections>();
            builder.Services.AddSingleton<WorkerDrain>();

            // The drain timeout covers both phases: clients closing after a last response, then Kestrel's shutdown.
            builder.Services.AddOptions<HostOptions>().Configure<ClusterOptions>((host, cluster) => host.ShutdownTimeout = cluster.DrainTimeout - WorkerDrain.CloseWindowFor(cluster));
            builder.Services.AddSingleton<IConnectionListenerFactory, ClusterTransportFactory>();
            builder.Services.AddSingleton<IStartupFilter, WorkerRequestsStartupFilter>();
            builder.Services.AddHostedService<WorkerLifecycle>();
        }

        builder.WebHost.ConfigureKestrel(ReadEndpointsOnce);
        return builder;
    }

    private const string KestrelKey = "ProcessCluster.Kestrel";

    /// <summary>
    /// The primary keeps the app's Kestrel as its server (under a key, wrapped by <see cref="PrimaryServer"/>) on a
    /// transport that opens each endpoint for the cluster and refuses HTTP/3.
    /// </summary>
    private static void UseKestrelOnPrimaryTransport(IServiceCollection services)
    {
        var kestrel = services.Last(service => service.ServiceType == typeof(IServer) && !service.IsKeyedService);
        services.Add(kestrel.ImplementationType is { } type ? ServiceDescriptor.KeyedSingleton(typeof(IServer), KestrelKey, type)
            : kestrel.ImplementationFactory is { } factory ? ServiceDescriptor.KeyedSingleton(typeof(IServer), KestrelKey, (services, _) => factory(services))
            : ServiceDescriptor.KeyedSingleton(typeof(IServer), KestrelKey, kestrel.ImplementationInstance!));
        services.AddSingleton<PrimaryTransport>();
        services.AddSingleton<IConnectionListenerFactory>(services => services.GetRequiredService<PrimaryTransport>());
        services.AddSingleton<IMultiplexedConnectionListenerFactory, Http3Refusal>();
        services.AddSingleton<IServer>(services => new PrimaryServer(
            services.GetRequiredKeyedService<IServer>(KestrelKey),
            services.GetRequiredService<PrimaryTransport>(),
            services.GetRequiredService<ClusterPrimary>(),
            services.GetRequiredService<IHostApplicationLifetime>(),
            services.GetRequiredService<IConfiguration>(),
            services.GetRequiredService<ILoggerFactory>()));
    }

    /// <summary>
    /// Kestrel:Endpoints is read once, at start, in the primary and in every worker: a reload that rebinds in one
    /// process only would leave the others serving a different set. A change takes effect when the primary restarts.
    /// Only the host's own loader (the "Kestrel" section) is replaced; one the app made itself is left as it is.
    /// </summary>
    private static void ReadEndpointsOnce(WebHostBuilderContext context, Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel)
    {
        if (kestrel.ConfigurationLoader?.Configuration is IConfigurationSection { Path: "Kestrel" } section)
        {
            kestrel.Configure(section, reloadOnChange: false);
        }
    }
}
