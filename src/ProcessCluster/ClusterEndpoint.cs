using System.Net;
using System.Net.Sockets;

namespace ProcessCluster;

/// <summary>
/// One address the cluster serves: a TCP address (<see cref="IPEndPoint"/>) or a Unix domain socket
/// (<see cref="UnixDomainSocketEndPoint"/>). Parsed from a URL the way Kestrel reads it: an IP literal binds that
/// address; "localhost" binds both loopback addresses (IPv4 and IPv6); "unix:/path" binds that socket file; any other
/// host ("*", "+", "0.0.0.0"-like names) binds every address.
/// </summary>
public sealed record ClusterEndpoint(string Scheme, EndPoint EndPoint)
{
    /// <summary>What the cluster serves when no URL is configured: Kestrel's default.</summary>
    public const string DefaultUrl = "http://localhost:5000";

    private const string UnixPrefix = "unix:";

    /// <summary>The endpoints of every URL, each entry possibly a ';'-separated list as in ASPNETCORE_URLS.</summary>
    public static IReadOnlyList<ClusterEndpoint> ParseUrls(IEnumerable<string> urls) =>
        urls.SelectMany(url => url.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .SelectMany(Parse)
            .ToList();

    /// <summary>The endpoints one URL binds (two for "localhost"); a <see cref="FormatException"/> when it has no scheme or a bad port.</summary>
    public static IEnumerable<ClusterEndpoint> Parse(string url)
    {
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0)
        {
            throw new FormatException($"'{url}' is not a URL like http://127.0.0.1:3000");
        }

        var scheme = url[..schemeEnd].ToLowerInvariant();
        var rest = url[(schemeEnd + 3)..];
        if (rest.StartsWith(UnixPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return [new ClusterEndpoint(scheme, UnixEndPoint(url, rest[UnixPrefix.Length..]))];
        }

        var pathStart = rest.IndexOf('/');
        var authority = pathStart >= 0 ? rest[..pathStart] : rest;
        var portStart = authority.LastIndexOf(':');
        var defaultPort = scheme == "https" ? 443 : 80;
        string host;
        int port;
        if (portStart > 0 && !authority.EndsWith(']'))
        {
            host = authority[..portStart];
            if (!int.TryParse(authority[(portStart + 1)..], out port) || port is < 0 or > 65535)
            {
                throw new FormatException($"'{url}' has no valid port");
            }
        }
        else
        {
            host = authority;
            port = defaultPort;
        }

        host = host.Trim('[', ']');
        IPAddress[] addresses = IPAddress.TryParse(host, out var literal) ? [literal]
            : string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? [IPAddress.Loopback, IPAddress.IPv6Loopback]
            : [IPAddress.IPv6Any];
        return addresses.Select(address => new ClusterEndpoint(scheme, new IPEndPoint(address, port)));
    }

    /// <summary>The URL of this endpoint once bound (real port, "+" when every address is bound, unix:/path for a socket file).</summary>
    public string ToUrl(EndPoint bound) => bound switch
    {
        UnixDomainSocketEndPoint unix => $"{Scheme}://{UnixPrefix}{unix}",
        IPEndPoint ip => $"{Scheme}://{Host(ip.Address)}:{ip.Port}",
        _ => $"{Scheme}://{bound}",
    };

    private static string Host(IPAddress address) =>
        address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Any) ? "+"
            : address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]"
            : address.ToString();

    /// <summary>Kestrel's form: the path runs to the end, or to a ':' that starts a path base (http://unix:/run/app.sock:/base).</summary>
    private static UnixDomainSocketEndPoint UnixEndPoint(string url, string rest)
    {
        var pathEnd = rest.IndexOf(':', StringComparison.Ordinal);
        var path = pathEnd >= 0 ? rest[..pathEnd] : rest;
        return path.Length > 0 ? new UnixDomainSocketEndPoint(path) : throw new FormatException($"'{url}' names no socket file (like http://unix:/run/app.sock)");
    }
}
