using System.Net.Sockets;

namespace ProcessCluster.Worker;

/// <summary>A connection this worker got as a bare descriptor (handed over, or taken from a shared queue), as Kestrel's own accept makes it.</summary>
internal static class AcceptedSocket
{
    /// <summary>Owns <paramref name="fd"/>; TCP gets no-delay as Kestrel's accept gives it (a Unix domain socket has no such option).</summary>
    public static Socket Adopt(int fd)
    {
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        if (socket.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
        {
            socket.NoDelay = true;
        }

        return socket;
    }
}
