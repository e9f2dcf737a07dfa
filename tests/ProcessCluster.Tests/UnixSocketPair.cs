using System.Net.Sockets;

namespace ProcessCluster.Tests;

/// <summary>Two connected Unix stream sockets (through an abstract-namespace listener), as a primary and a worker hold.</summary>
internal static class UnixSocketPair
{
    public static (Socket Left, Socket Right) Create()
    {
        var name = "\0processcluster-test-" + Guid.NewGuid().ToString("N");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(name));
        listener.Listen(1);
        var left = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        left.Connect(new UnixDomainSocketEndPoint(name));
        return (left, listener.Accept());
    }
}
