using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using ProcessCluster.Primary;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// The server the primary runs in place of Kestrel: it takes the app's URLs, opens them for the cluster and starts
/// the workers. The app's request pipeline is built but never runs here; the workers run it.
/// </summary>
internal sealed class PrimaryServer : IServer
{
    private const string DefaultUrl = "http://localhost:5000";

    private readonly ClusterPrimary _primary;
    private readonly AddressesFeature _addresses = new();

    public PrimaryServer(ClusterPrimary primary)
    {
        _primary = primary;
        // The host fills this with the configured URLs (urls, ASPNETCORE_URLS, --urls, UseUrls) before StartAsync.
        Features.Set<IServerAddressesFeature>(_addresses);
    }

    public IFeatureCollection Features { get; } = new FeatureCollection();

    public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        var urls = _addresses.Addresses.Count > 0 ? _addresses.Addresses.ToList() : [DefaultUrl];
        _primary.Start(ClusterEndpoint.ParseUrls(urls));
        _addresses.Addresses.Clear();
        foreach (var url in _primary.Urls)
        {
            _addresses.Addresses.Add(url);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _primary.StopAsync(cancellationToken);

    /// <summary>Nothing to release: the container owns and disposes the <see cref="ClusterPrimary"/>.</summary>
    public void Dispose()
    {
    }

    private sealed class AddressesFeature : IServerAddressesFeature
    {
        public ICollection<string> Addresses { get; } = new List<string>();

        public bool PreferHostingUrls { get; set; }
    }
}
