namespace ProcessCluster.Control;

/// <summary>Where a primary's control socket lives: one per primary, named by its pid, in a directory only its user can enter.</summary>
internal static class ControlSocketPath
{
    /// <summary><c>$XDG_RUNTIME_DIR/processcluster</c>, or <c>/tmp/processcluster-UID</c> where there is no runtime directory.</summary>
    public static string Directory()
    {
        var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        return string.IsNullOrEmpty(runtime)
            ? Path.Combine(Path.GetTempPath(), $"processcluster-{Interop.Libc.geteuid()}")
            : Path.Combine(runtime, "processcluster");
    }

    public static string ForPid(int pid) => Path.Combine(Directory(), $"{pid}.sock");

    /// <summary>The pid a default socket path is named after, or null for another name.</summary>
    public static int? PidOf(string path) =>
        int.TryParse(Path.GetFileNameWithoutExtension(path), out var pid) && Path.GetExtension(path) == ".sock" ? pid : null;
}
