using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ProcessCluster.Primary;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

public static class ClusterBuilderExtensions
{
    /// <summary>Exit code for settings the cluster cannot run with.</summary>
    public const int InvalidConfigurationExitCode = 2;

    /// <summary>Exit code when workers die in a loop and none ever became ready (a build that cannot boot).</summary>
    public const int WorkersCannotStartExitCode = 3;

    /// <summary>Exit code when the graceful stop had to kill workers that did not finish draining in time.</summary>
    public const int DrainIncompleteExitCode = 1;

    /// <summary>
    /// Makes this app a cluster. Started normally, the process becomes the primary: it listens on the app's URLs and
    /// starts <see cref="ClusterOptions.Workers"/> copies of itself, serving nothing itself. In those copies the same
    /// call makes Kestrel serve the connections the primary provides. Settings come from the "Cluster" section;
    /// with Cluster:Enabled=false the app runs as one plain Kestrel process.
    /// </summary>
    public static WebApplicationBuilder UseCluster(this WebApplicationBuilder builder, Action<ClusterOptions>? configure = null)
    {
        var options = BindOptions(builder.Configuration, configure);
        builder.Services.AddSingleton(options);
        if (!options.Enabled)
        {
            return builder;
        }

        if (Cluster.IsPrimary)
        {
            if (options.LogFormat == LogFormat.Json)
            {
                // The primary's own lines as JSON too, with timestamps and escaping as in its workers' lines.
                builder.Logging.AddJsonConsole(json =>
                {
                    json.UseUtcTimestamp = true;
                    json.TimestampFormat = "O";
                    json.JsonWriterOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
                });
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

    private static ClusterOptions BindOptions(IConfiguration configuration, Action<ClusterOptions>? configure)
    {
        var options = new ClusterOptions();
        IReadOnlyList<string> errors;
        try
        {
            configuration.GetSection(ClusterOptions.SectionName).Bind(options);
            configure?.Invoke(options);
            errors = options.Validate();
        }
        catch (InvalidOperationException error)
        {
            errors = [error.Message];
        }

        if (errors.Count > 0)
        {
            Console.Error.WriteLine($"Invalid cluster configuration: {string.Join("; ", errors)}");
            Environment.Exit(InvalidConfigurationExitCode);
        }

        return options;
    }
}
