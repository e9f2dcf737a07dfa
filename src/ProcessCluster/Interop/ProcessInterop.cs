using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace ProcessCluster.Interop;

/// <summary>Process creation and reaping without System.Diagnostics.Process, whose ExitCode cannot tell exit(137) from SIGKILL.</summary>
internal static unsafe class ProcessInterop
{
    // glibc's posix_spawnattr_t is 336 bytes, posix_spawn_file_actions_t 80 and sigset_t 128; these buffers are larger.
    private const int SpawnAttributesSize = 1024;
    private const int FileActionsSize = 512;
    private const int SignalSetSize = 256;

    // Signals the primary's runtime may ignore or block; a worker starts with every one of them at its default.
    private static readonly int[] SignalsResetInChild = [1, 2, 3, 10, 12, 13, 14, 15, 17, 21, 22];

    /// <summary>
    /// Starts <paramref name="path"/> with <paramref name="arguments"/> (argv[0] included) and the given environment,
    /// in <paramref name="workingDirectory"/> (null: this process's), stdin from /dev/null, stdout and stderr into pipes whose read ends are returned, in a process group of its own
    /// so a terminal's Ctrl+C reaches only the primary, which then stops the workers in order.
    /// </summary>
    public static SpawnedProcess Spawn(string path, IReadOnlyList<string> arguments, IReadOnlyList<string> environment, string? workingDirectory)
    {
        using var strings = new NativeStrings();
        var argv = strings.Array(arguments);
        var envp = strings.Array(environment);
        var pathBytes = strings.Add(path);
        var devNull = strings.Add("/dev/null");

        // [read end, write end]; -1 until opened.
        int* output = stackalloc int[] { -1, -1 };
        int* errors = stackalloc int[] { -1, -1 };
        var spawned = false;
        var attributes = NativeMemory.AllocZeroed(SpawnAttributesSize);
        var actions = NativeMemory.AllocZeroed(FileActionsSize);
        var signals = NativeMemory.AllocZeroed(SignalSetSize);
        try
        {
            OpenPipe(output);
            OpenPipe(errors);
            Check(Libc.posix_spawnattr_init(attributes), "posix_spawnattr_init");
            Check(Libc.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
            Check(Libc.posix_spawn_file_actions_addopen(actions, 0, devNull, Libc.O_RDONLY, 0), "posix_spawn_file_actions_addopen");
            Check(Libc.posix_spawn_file_actions_adddup2(actions, output[1], 1), "posix_spawn_file_actions_adddup2");
            Check(Libc.posix_spawn_file_actions_adddup2(actions, errors[1], 2), "posix_spawn_file_actions_adddup2");
            if (workingDirectory is not null)
            {
                // By name, in the child: a symlink swapped since the primary started (current -> releases/v2) is followed now.
                Check(Libc.posix_spawn_file_actions_addchdir_np(actions, strings.Add(workingDirectory)), "posix_spawn_file_actions_addchdir_np");
            }

            Libc.sigemptyset(signals);
            Check(Libc.posix_spawnattr_setsigmask(attributes, signals), "posix_spawnattr_setsigmask");
            foreach (var signal in SignalsResetInChild)
            {
                Libc.sigaddset(signals, signal);
            }

            Check(Libc.posix_spawnattr_setsigdefault(attributes, signals), "posix_spawnattr_setsigdefault");
            Check(Libc.posix_spawnattr_setpgroup(attributes, 0), "posix_spawnattr_setpgroup");
            Check(
                Libc.posix_spawnattr_setflags(attributes, Libc.POSIX_SPAWN_SETSIGMASK | Libc.POSIX_SPAWN_SETSIGDEF | Libc.POSIX_SPAWN_SETPGROUP),
                "posix_spawnattr_setflags");

            int pid;
            Check(Libc.posix_spawn(&pid, pathBytes, actions, attributes, argv, envp), $"posix_spawn({path})");
            spawned = true;
            return new SpawnedProcess(pid, new SafeFileHandle(output[0], ownsHandle: true), new SafeFileHandle(errors[0], ownsHandle: true));
        }
        finally
        {
            // The child has its own copies of the write ends; once ours are closed, a reader sees end of file when the
            // child, and whatever it passed them on to, has exited.
            CloseIfOpen(output[1]);
            CloseIfOpen(errors[1]);
            if (!spawned)
            {
                CloseIfOpen(output[0]);
                CloseIfOpen(errors[0]);
            }

            Libc.posix_spawn_file_actions_destroy(actions);
            Libc.posix_spawnattr_destroy(attributes);
            NativeMemory.Free(signals);
            NativeMemory.Free(actions);
            NativeMemory.Free(attributes);
        }
    }

    /// <summary>
    /// Blocks until the child <paramref name="pid"/> ends, reaps it, and tells how it ended; <see cref="ExitStatus.Unknown"/>
    /// when it was reaped elsewhere (SIGCHLD ignored after all, or another waitpid(-1) in the process).
    /// </summary>
    public static ExitStatus WaitForExit(int pid) => Wait(pid, Libc.WEXITED);

    /// <summary>Blocks until the child <paramref name="pid"/> ends, without reaping it: until reaped, the pid names no other process.</summary>
    public static void WaitUntilExited(int pid) => Wait(pid, Libc.WEXITED | Libc.WNOWAIT);

    private static ExitStatus Wait(int pid, int options)
    {
        Libc.SigInfo info;
        while (Libc.waitid(Libc.P_PID, pid, &info, options) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.ECHILD)
            {
                // Our own child that is no longer waitable has ended and been collected: its status is lost, not its exit.
                return ExitStatus.Unknown;
            }

            if (errno != Libc.EINTR)
            {
                throw new Win32Exception(errno, $"waitid({pid}) failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }

        return info.Code == Libc.CLD_EXITED ? ExitStatus.Exited(info.Status) : ExitStatus.Killed(info.Status);
    }

    /// <summary>
    /// Puts SIGCHLD back to its default when the primary was started with it ignored (some supervisors and shells
    /// do that, and an ignored disposition survives exec): the kernel would then reap each worker itself, and
    /// <see cref="WaitForExit"/> could not tell how it ended. A handler someone installed is left alone.
    /// </summary>
    public static void ResetIgnoredChildSignal()
    {
        Libc.SigAction current;
        if (Libc.sigaction(Libc.SIGCHLD, null, &current) == 0 && current.Handler == Libc.SIG_IGN)
        {
            var fallback = default(Libc.SigAction);
            fallback.Handler = Libc.SIG_DFL;
            Libc.sigaction(Libc.SIGCHLD, &fallback, null);
        }
    }

    /// <summary>
    /// Ignores <paramref name="signal"/> from now on; returns what was installed, for <see cref="RestoreSignal"/>. An
    /// ignored signal stays ignored across execve, where a handled one goes back to its default action.
    /// </summary>
    public static Libc.SigAction IgnoreSignal(int signal)
    {
        var ignore = default(Libc.SigAction);
        ignore.Handler = Libc.SIG_IGN;
        Libc.SigAction previous;
        Libc.sigaction(signal, &ignore, &previous);
        return previous;
    }

    /// <summary>Puts back what <see cref="IgnoreSignal"/> replaced (the runtime's handler, flags and mask included).</summary>
    public static void RestoreSignal(int signal, Libc.SigAction previous) => Libc.sigaction(signal, &previous, null);

    /// <summary>
    /// When <paramref name="signal"/> is ignored (inherited so: an in-place upgrade's new program finds SIGUSR2 so, see
    /// <see cref="IgnoreSignal"/>, a shell's background job SIGQUIT), catches it with a handler that does nothing instead: the runtime installs a
    /// PosixSignalRegistration's handler over any disposition but an ignored one, and the default meanwhile would kill.
    /// </summary>
    public static void CatchIfIgnored(int signal)
    {
        Libc.SigAction current;
        if (Libc.sigaction(signal, null, &current) == 0 && current.Handler == Libc.SIG_IGN)
        {
            // getpid as the handler: async-signal-safe, no effect, and it does not read the signal number it is given.
            var nothing = default(Libc.SigAction);
            nothing.Handler = NativeLibrary.GetExport(NativeLibrary.Load(Libc.Lib, typeof(Libc).Assembly, null), "getpid");
            Libc.sigaction(signal, &nothing, null);
        }
    }

    /// <summary>Whether <paramref name="pid"/> is a child of this process not yet reaped (running or a zombie), so its pid cannot name another process.</summary>
    public static bool IsUnreapedChild(int pid)
    {
        Libc.SigInfo info;
        return Libc.waitid(Libc.P_PID, pid, &info, Libc.WEXITED | Libc.WNOWAIT | Libc.WNOHANG) == 0;
    }

    /// <summary>Sends a signal; false when the process no longer exists.</summary>
    public static bool Signal(int pid, int signal) => Libc.kill(pid, signal) == 0;

    /// <summary>
    /// Asks the kernel to SIGKILL this process when its parent dies, then checks the parent is still
    /// <paramref name="expectedParent"/> (it may have died before the request). False when it is already gone.
    /// </summary>
    public static bool DieWithParent(int expectedParent)
    {
        Libc.prctl(Libc.PR_SET_PDEATHSIG, SignalNames.SIGKILL, 0, 0, 0);
        return Libc.getppid() == expectedParent;
    }

    /// <summary>This process's parent's pid.</summary>
    public static int ParentId() => Libc.getppid();

    /// <summary>
    /// No parent-death signal any more: while the primary re-executes itself, the thread that started this worker ends
    /// (execve ends every thread but the caller), and the kernel would take that for its parent's death.
    /// </summary>
    public static void ForgetParentDeath() => Libc.prctl(Libc.PR_SET_PDEATHSIG, 0, 0, 0, 0);

    /// <summary>
    /// Replaces this process's program in place (same pid, same children, descriptors without FD_CLOEXEC kept). Returns
    /// only when the exec failed, with why; the process then goes on as it was.
    /// </summary>
    public static string Exec(string path, IReadOnlyList<string> arguments, IReadOnlyList<string> environment)
    {
        using var strings = new NativeStrings();
        Libc.execve(strings.Add(path), strings.Array(arguments), strings.Array(environment));
        var errno = Marshal.GetLastPInvokeError();
        return $"execve({path}) failed: {Marshal.GetPInvokeErrorMessage(errno)}";
    }

    /// <summary>Whether a program this process execs keeps <paramref name="fd"/> (clears or sets FD_CLOEXEC).</summary>
    public static void SetInherited(int fd, bool inherited)
    {
        if (Libc.fcntl(fd, Libc.F_SETFD, inherited ? 0 : Libc.FD_CLOEXEC) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new Win32Exception(errno, $"fcntl({fd}, F_SETFD) failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    /// <summary>Whether <paramref name="fd"/> is an open descriptor of this process.</summary>
    public static bool IsOpen(int fd) => Libc.fcntl(fd, Libc.F_GETFD, 0) >= 0;

    /// <summary>
    /// This process's children (/proc/self/task/*/children): after an exec every one is a child of the one thread left,
    /// including workers a previous program of this pid started.
    /// </summary>
    public static IReadOnlyList<int> Children()
    {
        var children = new List<int>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                children.AddRange(File.ReadAllText(Path.Combine(task, "children"))
                    .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Select(pid => int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture)));
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return children;
    }

    /// <summary>Ends the process at once, without running managed shutdown.</summary>
    public static void ExitImmediately(int code) => Libc.ExitImmediately(code);

    /// <summary>
    /// A pipe with both ends close-on-exec, so no other child inherits them; dup2 onto the child's 1 and 2 clears the
    /// flag on those copies only.
    /// </summary>
    private static void OpenPipe(int* fds)
    {
        if (Libc.pipe2(fds, Libc.O_CLOEXEC) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new Win32Exception(errno, $"pipe2 failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    private static void CloseIfOpen(int fd)
    {
        if (fd >= 0)
        {
            Libc.close(fd);
        }
    }

    private static void Check(int error, string operation)
    {
        if (error != 0)
        {
            throw new Win32Exception(error, $"{operation} failed: {Marshal.GetPInvokeErrorMessage(error)}");
        }
    }

    /// <summary>A started child: its pid and the read ends of its stdout and stderr.</summary>
    public sealed record SpawnedProcess(int Pid, SafeFileHandle Output, SafeFileHandle Errors);

    /// <summary>Null-terminated UTF-8 strings and string arrays in native memory, freed together.</summary>
    private sealed class NativeStrings : IDisposable
    {
        private readonly List<nint> _allocations = [];

        public byte* Add(string value)
        {
            var length = Encoding.UTF8.GetByteCount(value);
            var buffer = (byte*)NativeMemory.Alloc((nuint)length + 1);
            _allocations.Add((nint)buffer);
            Encoding.UTF8.GetBytes(value, new Span<byte>(buffer, length));
            buffer[length] = 0;
            return buffer;
        }

        public byte** Array(IReadOnlyList<string> values)
        {
            var array = (byte**)NativeMemory.Alloc((nuint)(values.Count + 1), (nuint)sizeof(nint));
            _allocations.Add((nint)array);
            for (var i = 0; i < values.Count; i++)
            {
                array[i] = Add(values[i]);
            }

            array[values.Count] = null;
            return array;
        }

        public void Dispose()
        {
            foreach (var allocation in _allocations)
            {
                NativeMemory.Free((void*)allocation);
            }
        }
    }
}
