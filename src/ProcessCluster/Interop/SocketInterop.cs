using System.ComponentModel;
using System.Net;
using System.Runtime.InteropServices;

namespace ProcessCluster.Interop;

/// <summary>Unix socket operations .NET does not expose: descriptor passing (SCM_RIGHTS), peer credentials, raw accept.</summary>
internal static unsafe class SocketInterop
{
    /// <summary>
    /// The most descriptors one message may carry (a batch of hand-offs; the kernel's own limit is 253); a peer sending
    /// more is misbehaving.
    /// </summary>
    public const int MaxFdsPerMessage = 64;

    /// <summary>
    /// Sends all of <paramref name="data"/> on a blocking stream socket, with <paramref name="fds"/> attached to its first byte.
    /// </summary>
    public static void Send(int socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds)
    {
        var sent = SendOnce(socket, data, fds, Libc.MSG_NOSIGNAL);
        while (sent < data.Length)
        {
            sent += SendOnce(socket, data[sent..], default, Libc.MSG_NOSIGNAL);
        }
    }

    /// <summary>
    /// Sends what fits now, without waiting (MSG_DONTWAIT on a blocking socket): the bytes sent, with <paramref name="fds"/>
    /// attached to the first; 0 when the socket has no room, and then nothing left, descriptors included.
    /// </summary>
    public static int TrySend(int socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds) =>
        SendOnce(socket, data, fds, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);

    private static int SendOnce(int socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds, int flags)
    {
        if (fds.Length > MaxFdsPerMessage)
        {
            throw new ArgumentOutOfRangeException(nameof(fds), $"at most {MaxFdsPerMessage} descriptors per message");
        }

        var control = stackalloc byte[Libc.CmsgSpace(MaxFdsPerMessage)];
        fixed (byte* bytes = data)
        {
            var iov = new Libc.IoVec { Base = bytes, Length = (nuint)data.Length };
            var message = new Libc.MsgHdr { Iov = &iov, IovLength = 1 };
            if (fds.Length > 0)
            {
                var header = (Libc.CmsgHdr*)control;
                header->Level = Libc.SOL_SOCKET;
                header->Type = Libc.SCM_RIGHTS;
                header->Length = (nuint)Libc.CmsgLength(fds.Length);
                fds.CopyTo(new Span<int>(control + Libc.CmsgHeaderSize, fds.Length));
                message.Control = control;
                message.ControlLength = (nuint)Libc.CmsgSpace(fds.Length);
            }

            while (true)
            {
                var result = Libc.sendmsg(socket, &message, flags);
                if (result >= 0)
                {
                    return (int)result;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EAGAIN && (flags & Libc.MSG_DONTWAIT) != 0)
                {
                    return 0;
                }

                if (errno != Libc.EINTR)
                {
                    throw new Win32Exception(errno, $"sendmsg failed: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
            }
        }
    }

    /// <summary>
    /// Reads what is available into <paramref name="buffer"/> (blocking), appending received descriptors to <paramref name="fds"/>.
    /// Returns 0 at end of stream. Descriptors arrive close-on-exec. Without <paramref name="fds"/> there is no control
    /// buffer, so the kernel installs no descriptor here and discards any that came (MSG_CTRUNC, a violation).
    /// </summary>
    public static int Receive(int socket, Span<byte> buffer, Queue<int>? fds)
    {
        var controlLength = fds is null ? 0 : Libc.CmsgSpace(MaxFdsPerMessage);
        var control = stackalloc byte[controlLength];
        while (true)
        {
            fixed (byte* bytes = buffer)
            {
                var iov = new Libc.IoVec { Base = bytes, Length = (nuint)buffer.Length };
                var message = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
                var result = Libc.recvmsg(socket, &message, Libc.MSG_CMSG_CLOEXEC);
                if (result < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }

                    throw new Win32Exception(errno, $"recvmsg failed: {Marshal.GetPInvokeErrorMessage(errno)}");
                }

                if (fds is not null)
                {
                    CollectFds(&message, fds);
                }

                if ((message.Flags & Libc.MSG_CTRUNC) != 0)
                {
                    throw new ProtocolViolationException(fds is null
                        ? "descriptors arrived on a channel that takes none"
                        : $"a message carried more than {MaxFdsPerMessage} descriptors");
                }

                return (int)result;
            }
        }
    }

    private static void CollectFds(Libc.MsgHdr* message, Queue<int> fds)
    {
        var control = (byte*)message->Control;
        var end = control + message->ControlLength;
        var cursor = control;
        while (cursor + Libc.CmsgHeaderSize <= end)
        {
            var header = (Libc.CmsgHdr*)cursor;
            if (header->Length < (nuint)Libc.CmsgHeaderSize)
            {
                break;
            }

            if (header->Level == Libc.SOL_SOCKET && header->Type == Libc.SCM_RIGHTS)
            {
                var count = (int)(header->Length - (nuint)Libc.CmsgHeaderSize) / sizeof(int);
                var data = (int*)(cursor + Libc.CmsgHeaderSize);
                for (var i = 0; i < count; i++)
                {
                    fds.Enqueue(data[i]);
                }
            }

            cursor += Libc.Align((int)header->Length);
        }
    }

    /// <summary>The pid and uid of the process at the other end of a connected Unix socket (SO_PEERCRED).</summary>
    public static (int Pid, uint Uid) GetPeerCredentials(int socket)
    {
        Libc.UCred credentials;
        var length = (uint)sizeof(Libc.UCred);
        if (Libc.getsockopt(socket, Libc.SOL_SOCKET, Libc.SO_PEERCRED, &credentials, &length) != 0)
        {
            ThrowLastError("getsockopt(SO_PEERCRED)");
        }

        return (credentials.Pid, credentials.Uid);
    }

    /// <summary>
    /// What this end sent that the peer has not read yet (SIOCOUTQ; on a Unix socket the kernel's accounting of the
    /// queued buffers, so above the byte count, and 0 exactly when the peer has read everything).
    /// </summary>
    public static int Unread(int socket)
    {
        int queued;
        if (Libc.ioctl(socket, Libc.SIOCOUTQ, &queued) != 0)
        {
            ThrowLastError("ioctl(SIOCOUTQ)");
        }

        return queued;
    }

    /// <summary>Bounds blocking sends or receives on a socket (SO_SNDTIMEO / SO_RCVTIMEO).</summary>
    public static void SetTimeout(int socket, bool send, TimeSpan timeout)
    {
        var value = new Libc.TimeVal
        {
            Seconds = (long)timeout.TotalSeconds,
            Microseconds = timeout.Microseconds + timeout.Milliseconds * 1000L,
        };
        var option = send ? Libc.SO_SNDTIMEO : Libc.SO_RCVTIMEO;
        if (Libc.setsockopt(socket, Libc.SOL_SOCKET, option, &value, (uint)sizeof(Libc.TimeVal)) != 0)
        {
            ThrowLastError("setsockopt(timeout)");
        }
    }

    /// <summary>Blocking accept of one connection, close-on-exec. Returns -1 with the errno when accept failed.</summary>
    public static int Accept(int listenSocket, out int errno)
    {
        var fd = Libc.accept4(listenSocket, null, null, Libc.SOCK_CLOEXEC);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd;
    }

    /// <summary>Accept returns EAGAIN from now on instead of waiting; a thread already waiting in accept keeps waiting.</summary>
    public static void SetNonBlocking(int socket) => SetBlockingMode(socket, blocking: false);

    /// <summary>The descriptor is not passed on to programs this process starts.</summary>
    public static void SetCloseOnExec(int fd)
    {
        if (Libc.fcntl(fd, Libc.F_SETFD, Libc.FD_CLOEXEC) < 0)
        {
            ThrowLastError("fcntl(FD_CLOEXEC)");
        }
    }

    /// <summary>Accept waits again (a socket a previous primary left non-blocking).</summary>
    public static void SetBlocking(int socket) => SetBlockingMode(socket, blocking: true);

    private static void SetBlockingMode(int socket, bool blocking)
    {
        var flags = Libc.fcntl(socket, Libc.F_GETFL, 0);
        if (flags < 0 || Libc.fcntl(socket, Libc.F_SETFL, blocking ? flags & ~Libc.O_NONBLOCK : flags | Libc.O_NONBLOCK) < 0)
        {
            ThrowLastError("fcntl(O_NONBLOCK)");
        }
    }

    /// <summary>
    /// Closes a connection with a FIN rather than a reset: Linux resets a connection closed with unread input, so what
    /// the peer already sent is read and dropped first.
    /// </summary>
    public static void CloseWithoutReset(int fd)
    {
        Libc.shutdown(fd, Libc.SHUT_WR);
        var buffer = stackalloc byte[4096];
        while (Libc.recv(fd, buffer, 4096, Libc.MSG_DONTWAIT) > 0)
        {
        }

        Libc.close(fd);
    }

    /// <summary>Wakes a thread blocked in accept on this socket, which then fails.</summary>
    public static void Shutdown(int socket) => Libc.shutdown(socket, Libc.SHUT_RDWR);

    public static void Close(int fd) => Libc.close(fd);

    /// <summary>
    /// Makes a listening socket drop every incoming packet (a one-instruction socket filter: return 0), so no new
    /// handshake completes into its queue while what is queued is still served. A dropped SYN is retried by the client
    /// a second later, when the socket is closed and it is refused cleanly instead of reset.
    /// </summary>
    public static void DropIncoming(int socket) => AttachProgram(socket, Libc.SO_ATTACH_FILTER, [0x06], "setsockopt(SO_ATTACH_FILTER)");

    /// <summary>
    /// Sets SO_REUSEPORT, before bind: every socket bound to the address with it set (by this user) joins one group,
    /// and the kernel gives each new connection to one of them.
    /// </summary>
    public static void SetReusePort(int socket)
    {
        var on = 1;
        if (Libc.setsockopt(socket, Libc.SOL_SOCKET, Libc.SO_REUSEPORT, &on, sizeof(int)) != 0)
        {
            ThrowLastError("setsockopt(SO_REUSEPORT)");
        }
    }

    /// <summary>
    /// Replaces the classic BPF program that picks the member of <paramref name="socket"/>'s SO_REUSEPORT group for
    /// each new connection (SO_ATTACH_REUSEPORT_CBPF); the program is the group's, whichever member it is set on.
    /// </summary>
    public static void AttachReusePortProgram(int socket, ReadOnlySpan<ulong> instructions) =>
        AttachProgram(socket, Libc.SO_ATTACH_REUSEPORT_CBPF, instructions, "setsockopt(SO_ATTACH_REUSEPORT_CBPF)");

    /// <summary>Attaches a classic BPF program: each instruction packed as struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }.</summary>
    private static void AttachProgram(int socket, int option, ReadOnlySpan<ulong> instructions, string operation)
    {
        fixed (ulong* filter = instructions)
        {
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            var program = stackalloc byte[16];
            *(ushort*)program = (ushort)instructions.Length;
            *(ulong**)(program + 8) = filter;
            if (Libc.setsockopt(socket, Libc.SOL_SOCKET, option, program, 16) != 0)
            {
                ThrowLastError(operation);
            }
        }
    }

    private static void ThrowLastError(string operation)
    {
        var errno = Marshal.GetLastPInvokeError();
        throw new Win32Exception(errno, $"{operation} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
    }
}
