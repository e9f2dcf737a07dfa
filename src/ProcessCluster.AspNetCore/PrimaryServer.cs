using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ProcessCluster.Control;
using ProcessCluster.Distribution;
using ProcessCluster.Primary;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// The primary's server: the app's own Kestrel, on <see cref="PrimaryTransport"/>. Kestrel starts as it would in a
/// plain app and so binds exactly what the app configures; then this hands the sockets it opened to the cluster and
/// starts the workers, whose Kestrel reads the same configuration and claims the same endpoints. The app's request
/// pipeline is not even composed here (<see cref="PrimaryPipelineSkip"/>); the workers run it. The cluster's signals (HUP, TTIN, TTOU, QUIT) steer
/// it; the host's shutdown (SIGTERM, SIGINT, a stop from the control socket) drains the workers; the exit code says
/// how it went.
/// </summary>
internal sealed class PrimaryServer(
    IServer kestrel,
    PrimaryTransport transport,
    ClusterPrimary primary,
    IHostApplicationLifetime lifetime,
    IConfiguration configuration,
    ILoggerFactory loggerFactory) : IServer
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("ProcessCluster.Primary");
    private ClusterSignals? _signals;

    public IFeatureCollection Features => kestrel.Features;

    public async Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        if (Environment.GetCommandLineArgs().Contains(SelfCheck.Flag))
        {
            // An in-place upgrade's self-check of this build: the app and its cluster settings loaded (the options were
            // validated when the primary was made); nothing is bound. Exited at once: a host stopping from inside its
            // own start would wait on itself.
            Console.Out.WriteLine($"check passed: the app and its cluster settings load ({primary.Options.Workers} workers, {primary.Options.Scheduling})");
            Console.Out.Flush();
            ProcessCluster.Interop.ProcessInterop.ExitImmediately(ClusterExitCodes.Stopped);
        }

        primary.Failed += (_, _) =>
        {
            Environment.ExitCode = ClusterExitCodes.WorkersCannotStart;
            lifetime.StopApplication();
        };
        primary.ShutdownRequested += (_, _) => lifetime.StopApplication();
        try
        {
            await kestrel.StartAsync(application, cancellationToken).ConfigureAwait(false);
            var endpoints = Endpoints(transport.TakeOpened(), Features.Get<IServerAddressesFeature>()?.Addresses ?? []);
            if (primary.Options.LeanPrimary)
            {
                HandOver(endpoints);
            }

            primary.StartOn(endpoints);
        }
        catch (Exception error) when (IsStartFailure(error))
        {
            StartFailureExit.Exit(error);
        }

        _signals = new ClusterSignals(primary, _logger);
        Cluster.Started(primary);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _signals?.Dispose();
        if (!await primary.StopAsync(cancellationToken).ConfigureAwait(false) && Environment.ExitCode == 0)
        {
            Environment.ExitCode = ClusterExitCodes.DrainIncomplete;
        }

        Cluster.Stopped(primary);
        await kestrel.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The container owns and disposes Kestrel and the <see cref="ClusterPrimary"/>.</summary>
    public void Dispose() => _signals?.Dispose();

    /// <summary>
    /// Cluster:LeanPrimary: everything only the app's host could do is done (the endpoints bound, the settings resolved)
    /// and no worker has started, so this process re-executes itself as a lean primary (<see cref="LeanHandover"/>) and
    /// does not come back, unless the exec fails. A native AOT app has no startup hooks, and is lean already, unless a
    /// native program to hand over to is given (<see cref="ClusterOptions.LeanPrimaryProgram"/>).
    /// </summary>
    [UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "An empty location (a single-file app) is checked: the option is then ignored.")]
    private void HandOver(List<BoundEndpoint> endpoints)
    {
        var hookAssembly = typeof(StartupHook).Assembly.Location;
        if (primary.Options.LeanPrimaryProgram is null && (!RuntimeFeature.IsDynamicCodeSupported || hookAssembly.Length == 0))
        {
            _logger.LeanPrimaryIgnored("this app is published as native AOT or a single file, which runs no startup hook (a native AOT primary is lean already)");
            return;
        }

        // An in-place upgrade's workers, when this start is one: the lean primary adopts them.
        var workers = UpgradeHandover.Take()?.Workers ?? [];
        var logging = configuration.GetSection("Logging").AsEnumerable().ToDictionary(setting => setting.Key, setting => setting.Value);
        _logger.HandingOver(Environment.ProcessId, endpoints.Count);
        _logger.HandOverFailed(LeanHandover.Exec(endpoints, workers, new LeanState(primary.Options, logging, WorkerCommand.FromCurrentProcess()), hookAssembly));
    }

    /// <summary>The sockets Kestrel opened, each with the scheme of the address Kestrel reports for it (http when none says).</summary>
    private static List<BoundEndpoint> Endpoints(IReadOnlyList<PrimaryTransport.OpenedSocket> opened, ICollection<string> addresses)
    {
        var reported = addresses.SelectMany(ParseOrNone).ToList();
        return opened.Select((endpoint, index) =>
        {
            var bound = endpoint.Socket.LocalEndPoint!;
            var scheme = reported.FirstOrDefault(address => EndpointMatch.SameEndpoint(address.EndPoint, bound))?.Scheme ?? "http";
            return new BoundEndpoint(index, new ClusterEndpoint(scheme, endpoint.Requested), endpoint.Socket, endpoint.Origin);
        }).ToList();
    }

    private static IEnumerable<ClusterEndpoint> ParseOrNone(string address)
    {
        try
        {
            return ClusterEndpoint.Parse(address).ToList();
        }
        catch (FormatException)
        {
            return [];
        }
    }

    /// <summary>What fails Kestrel's start in a plain app too: a taken address, a certificate it cannot load, an endpoint it cannot serve.</summary>
    private static bool IsStartFailure(Exception error) =>
        ClusterConfiguration.IsStartFailure(error) || error is CryptographicException or NotSupportedException or InvalidOperationException;
}
