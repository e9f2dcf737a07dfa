using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProcessCluster.AspNetCore;
using ProcessCluster.AspNetCore.Admin;
using ProcessCluster.Control;
using ProcessCluster.Primary;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Cli;

/// <summary>
/// A primary that is not the app: it runs the cluster's supervisor alone (not the app's host, no request pipeline)
/// and starts a given command as its workers, as PM2 and gunicorn's arbiter do. Published with native AOT it is a
/// small process. The workers are apps that call UseCluster(); they serve the endpoints this primary opens: the app's
/// Kestrel:Endpoints when its configuration has any (as Kestrel would), else the URLs, which it passes on as URLS and
/// ASPNETCORE_URLS, else the http_ports/https_ports settings. Settings are read as the app reads them (ASP.NET Core's order): appsettings.json and
/// appsettings.{Environment}.json in the content root, the environment (Cluster__X, Logging__X), then --Cluster:X=value.
/// With Cluster:AdminUrl it serves the in-app primary's admin endpoint (dashboard, /metrics, /api/status).
/// </summary>
internal static class StandalonePrimary
{
    public static async Task<int> RunAsync(string? urlsOption, string contentRoot, IReadOnlyList<string> command, IReadOnlyList<string> settings, bool check)
    {
        // Before any line below is logged: the first console write starts the runtime's signal handling.
        ClusterSignals.CatchIgnored();
        // As WebApplication decides it: ASPNETCORE_ENVIRONMENT wins over DOTNET_ENVIRONMENT.
        var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? "Production";
        var configuration = new ConfigurationBuilder()
            .SetBasePath(Path.GetFullPath(contentRoot))
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(settings.ToArray())
            .Build();
        if (ReadOptions(configuration) is not { } options)
        {
            return ClusterExitCodes.InvalidConfiguration;
        }

        var given = new ConfigurationBuilder().AddCommandLine(settings.ToArray()).Build();
        ExportToWorkers(given);
        var givenUrls = urlsOption ?? configuration["urls"] ?? configuration["ASPNETCORE_URLS"];
        // Below the URLs, as in the app's host: the ports settings, which the workers read from the same configuration.
        var portUrls = givenUrls is null ? PortSettings.Urls(configuration) : null;
        var urls = string.Join(';', (givenUrls ?? portUrls ?? ClusterEndpoint.DefaultUrl)
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        using var loggerFactory = SupervisorRun.CreateLogging(configuration.GetSection("Logging"), options.LogFormat);
        var logger = loggerFactory.CreateLogger("ProcessCluster.Primary");
        if (given.AsEnumerable().Any(setting => ClusterOptions.IsAdminToken(setting.Key)))
        {
            logger.AdminTokenOnCommandLine();
        }

        IReadOnlyList<string> endpoints;
        try
        {
            endpoints = KestrelEndpoints.Read(configuration);
        }
        catch (Exception error) when (error is FormatException or NotSupportedException)
        {
            logger.CannotStart(error.Message);
            return ClusterExitCodes.InvalidConfiguration;
        }

        if (endpoints.Count > 0)
        {
            // As Kestrel does in the workers, which read the same section.
            if (givenUrls is not null)
            {
                logger.EndpointsOverrideUrls(urls);
            }

            urls = string.Join(';', endpoints);
        }
        else if (portUrls is null)
        {
            // The workers must bind exactly these. URLS outranks an app's appsettings.json (environment variables come
            // after it); ASPNETCORE_URLS reaches hosts that read only prefixed variables. URLs from the ports settings are
            // not passed on: the workers derive the same ones, and a URLS beside the ports makes each worker warn that it overrides them.
            Environment.SetEnvironmentVariable("URLS", urls);
            Environment.SetEnvironmentVariable("ASPNETCORE_URLS", urls);
        }

        if (WorkerCommandFor(command) is not { } workerCommand)
        {
            logger.ProgramNotFound(command[0]);
            return ClusterExitCodes.InvalidConfiguration;
        }

        if (check)
        {
            // An in-place upgrade's self-check of this build: the settings and the worker command are good; nothing is bound.
            Console.WriteLine($"check passed: settings read, worker command {workerCommand.Path} found, endpoints {urls}");
            return ClusterExitCodes.Stopped;
        }

        await using var primary = new ClusterPrimary(options, loggerFactory, workerCommand) { CheckArguments = AfterRun };
        return await SupervisorRun.RunAsync(primary, loggerFactory, logger, () => primary.Start(ClusterEndpoint.ParseUrls([urls]))).ConfigureAwait(false);
    }

    /// <summary>An upgrade's self-check runs this command line with --check as an option of run (after it, the worker command begins).</summary>
    private static IReadOnlyList<string> AfterRun(IReadOnlyList<string> arguments)
    {
        var run = arguments.ToList().IndexOf("run");
        return run < 0 ? [.. arguments, SelfCheck.Flag] : [.. arguments.Take(run + 1), SelfCheck.Flag, .. arguments.Skip(run + 1)];
    }

    /// <summary>The settings as an app's host reads them (the options pattern); null, with each problem printed, when they are unusable.</summary>
    private static ClusterOptions? ReadOptions(IConfiguration configuration)
    {
        var services = new ServiceCollection().AddSingleton(configuration);
        services.AddClusterOptions();
        using var provider = services.BuildServiceProvider();
        try
        {
            return provider.GetRequiredService<IOptions<ClusterOptions>>().Value;
        }
        catch (OptionsValidationException error) when (ClusterConfiguration.Describe(error) is { } line)
        {
            Console.Error.WriteLine(line);
            return null;
        }
    }

    /// <summary>
    /// The workers read their settings from their own configuration; settings given to this primary on its command
    /// line reach them as environment variables, so both sides agree (drain timeout, log format, ...). The admin token
    /// is the primary's alone: the launcher leaves it out of every worker's environment.
    /// </summary>
    private static void ExportToWorkers(IConfiguration settings)
    {
        foreach (var (key, value) in settings.AsEnumerable())
        {
            if (value is not null)
            {
                Environment.SetEnvironmentVariable(key.Replace(":", "__", StringComparison.Ordinal), value);
            }
        }
    }

    /// <summary>The worker's program, found on PATH as a shell would ("dotnet app.dll" works); null when it is not there.</summary>
    private static WorkerCommand? WorkerCommandFor(IReadOnlyList<string> command)
    {
        var candidates = command[0].Contains('/')
            ? [command[0]]
            : (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin")
                .Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(directory => Path.Combine(directory, command[0]));
        return candidates.FirstOrDefault(File.Exists) is { } program
            ? new WorkerCommand(Path.GetFullPath(program), [command[0], .. command.Skip(1)])
            : null;
    }
}
