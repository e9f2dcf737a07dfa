using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// The in-app primary's QUIC transport, which refuses: HTTP/3 runs over UDP, and the cluster hands over TCP connections
/// and Unix sockets only. Kestrel asks it for every endpoint whose protocols include HTTP/3 (over TLS), so the start
/// fails with one line naming that endpoint rather than a cluster whose workers cannot share it.
/// </summary>
internal sealed class Http3Refusal : IMultiplexedConnectionListenerFactory
{
    public ValueTask<IMultiplexedConnectionListener> BindAsync(EndPoint endpoint, IFeatureCollection? features = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException(Refused($"https://{endpoint}"));

    /// <summary>The one line that says so, for either primary.</summary>
    public static string Refused(string url) =>
        $"HTTP/3 is not supported by the cluster (it runs over UDP, and the cluster shares TCP only): the endpoint {url} asks for it; set its Protocols to Http1AndHttp2";
}
