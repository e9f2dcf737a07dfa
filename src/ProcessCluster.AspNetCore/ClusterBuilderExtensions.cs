using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ProcessCluster.Primary;
using ProcessCluster.Telemetry;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

public static class ClusterBuilderExtensions
{
    /// <summary>
    /// Makes this app a cluster. Started normally, the process becomes the primary: it listens on the app's URLs and
    /// starts <see cref="ClusterOptions.Workers"/> copies of itself, serving nothing itself. In those copies the same
    /// call makes Kestrel serve the connections the primary provides. Settings come from the "Cluster" section;
    /// with Cluster:Enabled=false the app runs as one plain Kestrel process.
    /// </summary>
    public static WebApplicationBuilder UseCluster(this WebApplicationBuilder builder, Action<ClusterOptions>? configure = null)
    {
        var options = ClusterConfiguration.BindOrExit(builder.Configuration, configure);
        builder.Services.AddSingleton(options);
        if (!options.Enabled)
        {
            return builder;
        }

        if (Cluster.IsPrimary)
        {
            if (options.LogFormat == LogFormat.Json)
            {
                builder.Logging.AddClusterJsonConsole();
            }

            builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout + TimeSpan.FromSeconds(10));
            builder.Services.AddSingleton(services => new ClusterPrimary(options, services.GetRequiredService<ILoggerFactory>()));
            builder.Services.AddSingleton<IServer, PrimaryServer>();
            builder.Services.AddHostedService<Admin.AdminServer>();
        }
        else
        {
            builder.Services.AddSingleton(services => ClusterWorker.Connect(
                WorkerEnvironment.Current!,
                options.MaxMessageBytes,
                services.GetRequiredService<ILoggerFactory>().CreateLogger("ProcessCluster.Worker")));
            builder.Services.AddSingleton<WorkerDrain>();

            // The drain timeout covers both phases: clients closing after a last response, then Kestrel's shutdown.
            builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout - WorkerDrain.CloseWindowFor(options));
            builder.Services.AddSingleton<IConnectionListenerFactory, ClusterTransportFactory>();
            builder.Services.AddSingleton<IStartupFilter, WorkerRequestsStartupFilter>();
            builder.Services.AddHostedService<WorkerLifecycle>();
        }

        return builder;
    }
}
