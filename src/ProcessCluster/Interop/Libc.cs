using System.Runtime.InteropServices;

namespace ProcessCluster.Interop;

/// <summary>
/// Every libc call the cluster makes, and nothing else. Layouts are those of 64-bit Linux (x86_64 and arm64 share them).
/// </summary>
internal static unsafe partial class Libc
{
    public const string Lib = "libc";

    public const int EINTR = 4;
    public const int ECHILD = 10;
    public const int EAGAIN = 11;

    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int SO_PEERCRED = 17;
    public const int _SC_CLK_TCK = 2;
    public const int SO_ATTACH_FILTER = 26;
    public const int SO_REUSEPORT = 15;
    public const int SO_ATTACH_REUSEPORT_CBPF = 51;
    public const int SO_RCVTIMEO = 20;
    public const int SO_SNDTIMEO = 21;
    public const int MSG_CTRUNC = 0x8;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SHUT_WR = 1;
    public const int SHUT_RDWR = 2;
    public const int MSG_DONTWAIT = 0x40;
    public const nuint SIOCOUTQ = 0x5411;
    public const int MSG_PEEK = 0x2;
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int F_GETFL = 3;
    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int FD_CLOEXEC = 1;
    public const int F_SETFL = 4;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    public const short POLLIN = 0x1;

    public const int SIGCHLD = 17;
    public const nint SIG_DFL = 0;
    public const nint SIG_IGN = 1;

    public const int PR_SET_PDEATHSIG = 1;
    public const int P_PID = 1;
    public const int WNOHANG = 1;
    public const int WEXITED = 4;
    public const int WNOWAIT = 0x01000000;
    public const int CLD_EXITED = 1;
    public const int CLD_KILLED = 2;
    public const int CLD_DUMPED = 3;

    public const short POSIX_SPAWN_SETPGROUP = 0x02;
    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;
    public const int O_RDONLY = 0;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    /// <summary>siginfo_t is 128 bytes; waitid fills si_code (offset 8), si_pid (16) and si_status (24).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    public struct SigInfo
    {
        [FieldOffset(8)] public int Code;
        [FieldOffset(16)] public int Pid;
        [FieldOffset(24)] public int Status;
    }

    /// <summary>glibc's struct sigaction (152 bytes on x86_64 and arm64); only the handler is read or set.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 152)]
    public struct SigAction
    {
        [FieldOffset(0)] public nint Handler;
    }

    /// <summary>sizeof(cmsghdr), the offset of the first fd in a control message.</summary>
    public static int CmsgHeaderSize => sizeof(CmsgHdr);

    /// <summary>CMSG_SPACE for <paramref name="fdCount"/> descriptors.</summary>
    public static int CmsgSpace(int fdCount) => CmsgHeaderSize + Align(fdCount * sizeof(int));

    /// <summary>CMSG_LEN for <paramref name="fdCount"/> descriptors.</summary>
    public static int CmsgLength(int fdCount) => CmsgHeaderSize + fdCount * sizeof(int);

    public static int Align(int length) => (length + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint sendmsg(int fd, MsgHdr* message, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recvmsg(int fd, MsgHdr* message, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int accept4(int fd, void* address, void* addressLength, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint getrandom(void* buffer, nuint length, uint flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recv(int fd, void* buffer, nuint length, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, int* value);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getpeername(int fd, void* address, uint* addressLength);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nuint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, void* buffer, nuint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fcntl(int fd, int command, int argument);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport(Lib)]
    public static partial int getppid();

    [LibraryImport(Lib)]
    public static partial long sysconf(int name);

    [LibraryImport(Lib)]
    public static partial uint geteuid();

    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint STATX_TYPE = 0x1;
    public const uint STATX_MODE = 0x2;
    public const uint STATX_UID = 0x8;
    public const int S_IFMT = 0xF000;
    public const int S_IFDIR = 0x4000;

    /// <summary>struct statx: the same layout on every architecture, unlike struct stat; only the fields read here.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(28)] public ushort Mode;
    }

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int directoryFd, string path, int flags, uint mask, Statx* result);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int sigaction(int signal, SigAction* action, SigAction* previous);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int waitid(int idType, int id, SigInfo* info, int options);

    [LibraryImport(Lib, EntryPoint = "_exit")]
    public static partial void ExitImmediately(int status);

    // posix_spawn returns an error number instead of setting errno.
    [LibraryImport(Lib)]
    public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_init(void* attributes);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_destroy(void* attributes);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_setflags(void* attributes, short flags);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_setsigmask(void* attributes, void* signalSet);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_setsigdefault(void* attributes, void* signalSet);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_setpgroup(void* attributes, int processGroup);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_init(void* actions);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_destroy(void* actions);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_addopen(void* actions, int fd, byte* path, int flags, uint mode);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_adddup2(void* actions, int fd, int newFd);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_addchdir_np(void* actions, byte* path);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial byte* realpath(byte* path, byte* resolved);

    [LibraryImport(Lib)]
    public static partial void free(void* pointer);

    [LibraryImport(Lib)]
    public static partial int sigemptyset(void* signalSet);

    [LibraryImport(Lib)]
    public static partial int sigaddset(void* signalSet, int signal);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int execve(byte* path, byte** argv, byte** envp);
}
