using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using ProcessCluster.Interop;

namespace ProcessCluster.Control;

/// <summary>Where a primary's control socket lives: one per primary, named by its pid, in a directory only its user can enter.</summary>
internal static class ControlSocketPath
{
    /// <summary>
    /// <c>$RUNTIME_DIRECTORY/processcluster</c> (systemd's RuntimeDirectory=), else <c>$XDG_RUNTIME_DIR/processcluster</c>,
    /// else <c>/tmp/processcluster-UID</c>.
    /// </summary>
    public static string Directory()
    {
        // systemd lists one path per RuntimeDirectory= entry, ':'-separated: the first is ours.
        var runtime = Environment.GetEnvironmentVariable("RUNTIME_DIRECTORY")?.Split(':')[0];
        if (string.IsNullOrEmpty(runtime))
        {
            runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        }

        return string.IsNullOrEmpty(runtime)
            ? Path.Combine(Path.GetTempPath(), $"processcluster-{Libc.geteuid()}")
            : Path.Combine(runtime, "processcluster");
    }

    public static string ForPid(int pid) => Path.Combine(Directory(), $"{pid}.sock");

    /// <summary>The pid a default socket path is named after, or null for another name.</summary>
    public static int? PidOf(string path) =>
        int.TryParse(Path.GetFileNameWithoutExtension(path), out var pid) && Path.GetExtension(path) == ".sock" ? pid : null;

    /// <summary>
    /// Creates the socket's directory (mode 0700), or accepts an existing one only if it is a real directory (not a
    /// symlink) owned by this uid that no one else can enter: in a shared /tmp another user may have made it first, to
    /// serve a socket of their own in it.
    /// </summary>
    /// <exception cref="IOException">The directory is not safe to use, or could not be checked.</exception>
    [UnsupportedOSPlatform("windows")]
    public static void EnsurePrivateDirectory(string directory)
    {
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        System.IO.Directory.CreateDirectory(directory, Private);
        Libc.Statx status;
        unsafe
        {
            if (Libc.statx(Libc.AT_FDCWD, directory, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_TYPE | Libc.STATX_MODE | Libc.STATX_UID, &status) != 0)
            {
                throw new IOException($"cannot check the control directory {directory}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
        }

        var uid = Libc.geteuid();
        var problem = (status.Mode & Libc.S_IFMT) != Libc.S_IFDIR ? "it is not a directory (a symlink?)"
            : status.Uid != uid ? $"it belongs to uid {status.Uid}, not {uid}"
            : (status.Mode & 0x1FF) != (int)Private ? $"its mode is {Convert.ToString(status.Mode & 0x1FF, 8)}, not 700"
            : null;
        if (problem is not null)
        {
            throw new IOException($"the control directory {directory} is not private: {problem}; remove it, or set Cluster:ControlSocket");
        }
    }
}
