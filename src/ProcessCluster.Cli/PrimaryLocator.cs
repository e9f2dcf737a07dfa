using ProcessCluster.Control;

namespace ProcessCluster.Cli;

/// <summary>Finds the control socket of the primary to talk to: given, named by pid, or the only one running.</summary>
internal static class PrimaryLocator
{
    /// <summary>The socket path, or an error that says what to do.</summary>
    public static (string? Path, string? Error) Find(string? socket, int? pid)
    {
        if (socket is not null)
        {
            return File.Exists(socket) ? (socket, null) : (null, $"no control socket at {socket}");
        }

        if (pid is { } given)
        {
            var path = ControlSocketPath.ForPid(given);
            return File.Exists(path)
                ? (path, null)
                : (null, Directory.Exists($"/proc/{given}") ? $"process {given} has no control socket at {path} (is it a cluster primary, and is Cluster:ControlSocket set elsewhere?)" : $"no process {given} is running");
        }

        var directory = ControlSocketPath.Directory();
        var running = Directory.Exists(directory)
            ? Directory.GetFiles(directory, "*.sock").Where(path => ControlSocketPath.PidOf(path) is { } owner && Directory.Exists($"/proc/{owner}")).Order().ToList()
            : [];
        return running.Count switch
        {
            0 => (null, $"no running cluster found (no control socket in {directory}); start one, or pass --socket or --pid"),
            1 => (running[0], null),
            _ => (null, $"{running.Count} clusters are running (primaries {string.Join(", ", running.Select(path => ControlSocketPath.PidOf(path)))}); pick one with --pid"),
        };
    }
}
