using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ProcessCluster.Control;
using ProcessCluster.Primary;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// The server the primary runs in place of Kestrel: it takes the app's URLs, opens them for the cluster and starts
/// the workers. The app's request pipeline is built but never runs here; the workers run it. The cluster's signals
/// (HUP, TTIN, TTOU, QUIT) steer it; the host's shutdown (SIGTERM, SIGINT, a stop from the control socket) drains
/// the workers; the exit code says how it went.
/// </summary>
internal sealed class PrimaryServer : IServer
{
    private readonly ClusterPrimary _primary;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly AddressesFeature _addresses = new();
    private ClusterSignals? _signals;

    public PrimaryServer(ClusterPrimary primary, IHostApplicationLifetime lifetime, ILoggerFactory loggerFactory)
    {
        _primary = primary;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger("ProcessCluster.Primary");
        // The host fills this with the configured URLs (urls, ASPNETCORE_URLS, --urls, UseUrls) before StartAsync.
        Features.Set<IServerAddressesFeature>(_addresses);
    }

    public IFeatureCollection Features { get; } = new FeatureCollection();

    public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        var urls = _addresses.Addresses.Count > 0 ? _addresses.Addresses.ToList() : [ClusterEndpoint.DefaultUrl];
        _primary.Failed += (_, _) =>
        {
            Environment.ExitCode = ClusterExitCodes.WorkersCannotStart;
            _lifetime.StopApplication();
        };
        _primary.ShutdownRequested += (_, _) => _lifetime.StopApplication();
        try
        {
            _primary.Start(ClusterEndpoint.ParseUrls(urls));
        }
        catch (Exception error) when (ClusterConfiguration.IsStartFailure(error))
        {
            StartFailureExit.Exit(error);
        }

        _addresses.Addresses.Clear();
        foreach (var url in _primary.Urls)
        {
            _addresses.Addresses.Add(url);
        }

        _signals = new ClusterSignals(_primary, _logger);
        Cluster.Started(_primary);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _signals?.Dispose();
        if (!await _primary.StopAsync(cancellationToken).ConfigureAwait(false) && Environment.ExitCode == 0)
        {
            Environment.ExitCode = ClusterExitCodes.DrainIncomplete;
        }

        Cluster.Stopped(_primary);
    }

    /// <summary>The container owns and disposes the <see cref="ClusterPrimary"/>.</summary>
    public void Dispose() => _signals?.Dispose();

    private sealed class AddressesFeature : IServerAddressesFeature
    {
        public ICollection<string> Addresses { get; } = new List<string>();

        public bool PreferHostingUrls { get; set; }
    }
}
