namespace ProcessCluster.IntegrationTests;

/// <summary>Processes by pid, through /proc and kill(2).</summary>
public static partial class ProcessTree
{
    public static IReadOnlyList<int> Children(int pid)
    {
        try
        {
            return Directory.GetDirectories($"/proc/{pid}/task")
                .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(int.Parse)
                .ToList();
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>True while the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var state = File.ReadAllLines($"/proc/{pid}/status").FirstOrDefault(line => line.StartsWith("State:", StringComparison.Ordinal));
            return state is not null && !state.Contains("zombie", StringComparison.Ordinal) && !state.Contains("(dead)", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>TCP ports the process listens on, from its socket descriptors and /proc/net/tcp and tcp6.</summary>
    public static IReadOnlySet<int> ListeningPorts(int pid)
    {
        try
        {
            var inodes = Directory.GetFiles($"/proc/{pid}/fd")
                .Select(fd => new FileInfo(fd).LinkTarget)
                .Where(target => target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                .Select(target => target!["socket:[".Length..^1])
                .ToHashSet();
            return ((string[])["/proc/net/tcp", "/proc/net/tcp6"])
                .SelectMany(table => File.ReadAllLines(table).Skip(1))
                .Select(row => row.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(fields => fields[3] == "0A" && inodes.Contains(fields[9])) // 0A: LISTEN
                .Select(fields => Convert.ToInt32(fields[1].Split(':')[1], 16))
                .ToHashSet();
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return new HashSet<int>();
        }
    }

    /// <summary>
    /// Connections waiting in the accept queues of every listening socket on <paramref name="port"/> (a listener's
    /// rx_queue in /proc/net/tcp is its accept queue's length), whoever holds the sockets.
    /// </summary>
    public static int QueuedOnListeners(int port) =>
        ((string[])["/proc/net/tcp", "/proc/net/tcp6"])
            .SelectMany(table => File.ReadAllLines(table).Skip(1))
            .Select(row => row.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields[3] == "0A" && Convert.ToInt32(fields[1].Split(':')[1], 16) == port)
            .Sum(fields => Convert.ToInt32(fields[4].Split(':')[1], 16));

    /// <summary>The process's open descriptors as "number -> target" (socket:[inode], pipe:[inode], a path, ...).</summary>
    public static IReadOnlyList<string> Descriptors(int pid) =>
        Directory.GetFiles($"/proc/{pid}/fd")
            .Select(fd => $"{Path.GetFileName(fd)} -> {Target(fd)}")
            .ToList();

    public static void Kill(int pid, int signal = 9) => _ = Native.Kill(pid, signal);

    public static IReadOnlyDictionary<string, string> Environment(int pid) =>
        File.ReadAllText($"/proc/{pid}/environ")
            .Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(entry => entry.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .GroupBy(pair => pair[0])
            .ToDictionary(group => group.Key, group => group.First()[1]);

    /// <summary>Where a descriptor points; one closed since it was listed points nowhere.</summary>
    private static string Target(string fd)
    {
        try
        {
            return new FileInfo(fd).LinkTarget ?? "?";
        }
        catch (IOException)
        {
            return "closed";
        }
    }

    private static partial class Native
    {
        [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
        public static partial int Kill(int pid, int signal);
    }
}
