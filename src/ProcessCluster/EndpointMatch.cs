using System.Net;
using System.Net.Sockets;

namespace ProcessCluster;

/// <summary>When two endpoints are the same listening address, as the kernel sees it.</summary>
internal static class EndpointMatch
{
    /// <summary>
    /// The same socket file; or the same port at the same address, IPv4 and IPv6 "any" being one (Kestrel falls back
    /// from the one to the other).
    /// </summary>
    public static bool SameEndpoint(EndPoint left, EndPoint right) => (left, right) switch
    {
        (UnixDomainSocketEndPoint a, UnixDomainSocketEndPoint b) => Path.GetFullPath(a.ToString()!) == Path.GetFullPath(b.ToString()!),
        (IPEndPoint a, IPEndPoint b) => a.Port == b.Port && (a.Address.Equals(b.Address) || (IsAny(a.Address) && IsAny(b.Address))),
        _ => false,
    };

    private static bool IsAny(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
}
