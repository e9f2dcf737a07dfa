using System.ComponentModel;
using System.Runtime.InteropServices;

namespace ProcessCluster.Interop;

/// <summary>poll(2), the one wrapper every waiter uses (accept threads, the shared-socket watcher, the request peeker).</summary>
internal static unsafe class PollInterop
{
    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> (-1: for ever) for the events asked of any of
    /// <paramref name="fds"/>; their ReturnedEvents say which. Returns how many have events: 0 on a timeout or when a
    /// signal interrupted the wait (the caller looks again). Any other failure is a bad argument, and throws.
    /// </summary>
    public static int Poll(Span<Libc.PollFd> fds, int timeoutMilliseconds)
    {
        fixed (Libc.PollFd* entries = fds)
        {
            var ready = Libc.poll(entries, (nuint)fds.Length, timeoutMilliseconds);
            if (ready >= 0)
            {
                return ready;
            }

            var errno = Marshal.GetLastPInvokeError();
            return errno == Libc.EINTR
                ? 0
                : throw new Win32Exception(errno, $"poll failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    /// <summary>Whether any of <paramref name="fds"/> returned input (for a listening socket: a connection waits in its queue).</summary>
    public static bool AnyReadable(ReadOnlySpan<Libc.PollFd> fds)
    {
        foreach (var entry in fds)
        {
            if ((entry.ReturnedEvents & Libc.POLLIN) != 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for input on any of <paramref name="fds"/> (for listening sockets: a connection in a queue).</summary>
    public static bool AnyReadable(IEnumerable<int> fds, TimeSpan timeout) =>
        AnyReadable(fds.Select(fd => new Libc.PollFd { Fd = fd, Events = Libc.POLLIN }).ToArray(), timeout);

    /// <summary>The same on a poll set built once (each entry asking POLLIN) and polled again and again.</summary>
    public static bool AnyReadable(Span<Libc.PollFd> polled, TimeSpan timeout) =>
        Poll(polled, (int)timeout.TotalMilliseconds) > 0 && AnyReadable(polled);
}
