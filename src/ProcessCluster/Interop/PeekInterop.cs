using System.ComponentModel;
using System.Runtime.InteropServices;

namespace ProcessCluster.Interop;

/// <summary>
/// What the primary reads of a connection it hands on without taking anything from it: the bytes waiting (MSG_PEEK),
/// the client's address, and a pipe to wake the poll that waits for many connections at once.
/// </summary>
internal static unsafe class PeekInterop
{
    /// <summary>The bytes waiting on <paramref name="fd"/>, left in place; -1 when none are there yet; 0 at end of stream or on an error.</summary>
    public static int Peek(int fd, Span<byte> buffer)
    {
        fixed (byte* data = buffer)
        {
            var read = (int)Libc.recv(fd, data, (nuint)buffer.Length, Libc.MSG_PEEK | Libc.MSG_DONTWAIT);
            return read >= 0 ? read : Marshal.GetLastPInvokeError() is Libc.EAGAIN or Libc.EINTR ? -1 : 0;
        }
    }

    /// <summary>A hash of the peer's IP address (not its port); null for a connection without one (a Unix socket).</summary>
    public static uint? PeerAddressHash(int fd)
    {
        var address = stackalloc byte[128];
        var length = 128u;
        if (Libc.getpeername(fd, address, &length) != 0)
        {
            return null;
        }

        var family = *(ushort*)address;
        var bytes = family switch
        {
            Libc.AF_INET => new ReadOnlySpan<byte>(address + 4, 4),
            Libc.AF_INET6 => new ReadOnlySpan<byte>(address + 8, 16),
            _ => default,
        };
        if (bytes.IsEmpty)
        {
            return null;
        }

        // Seeded per process: stable for as long as this primary runs, which is all a hash over its workers needs.
        var hash = default(HashCode);
        hash.AddBytes(bytes);
        return (uint)hash.ToHashCode();
    }

    /// <summary>A non-blocking, close-on-exec pipe: (read end, write end).</summary>
    public static (int Read, int Write) OpenWakePipe()
    {
        var fds = stackalloc int[2];
        if (Libc.pipe2(fds, Libc.O_CLOEXEC | Libc.O_NONBLOCK) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new Win32Exception(errno, $"pipe2 failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return (fds[0], fds[1]);
    }

    /// <summary>Makes the read end readable; a full pipe is readable already.</summary>
    public static void Wake(int writeEnd)
    {
        byte one = 1;
        Libc.write(writeEnd, &one, 1);
    }

    /// <summary>Empties the read end.</summary>
    public static void Drain(int readEnd)
    {
        var buffer = stackalloc byte[64];
        while (Libc.read(readEnd, buffer, 64) > 0)
        {
        }
    }
}
