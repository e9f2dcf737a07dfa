using System.Net.Sockets;

namespace ProcessCluster.Tests;

/// <summary>Both ends of a connected Unix stream socket, made as the primary and a worker make theirs (abstract name, listen, connect).</summary>
internal static class UnixSocketPair
{
    public static (Socket Connecting, Socket Accepted) Create()
    {
        var name = "\0processcluster-test-" + Guid.NewGuid().ToString("N");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(name));
        listener.Listen(1);
        var connecting = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        connecting.Connect(new UnixDomainSocketEndPoint(name));
        return (connecting, listener.Accept());
    }
}
