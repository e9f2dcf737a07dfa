using System.Globalization;

namespace ProcessCluster.Interop;

/// <summary>What the primary reads from /proc: its workers' CPU time and memory, and the memory the machine has free.</summary>
internal static class ProcFs
{
    private static readonly long TicksPerSecond = Math.Max(1, Libc.sysconf(Libc._SC_CLK_TCK));

    /// <summary>A process's environment (/proc/PID/environ), "NAME=value" each; empty when it cannot be read.</summary>
    public static IReadOnlyList<string> EnvironmentOf(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>CPU time a process has used, user and system (/proc/PID/stat), or null when it is gone.</summary>
    public static TimeSpan? CpuTime(int pid)
    {
        try
        {
            // The command name (field 2) may hold spaces and parentheses: count fields from the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds((double)ticks / TicksPerSecond);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>A process's resident memory in bytes (/proc/PID/statm), or null when it is gone.</summary>
    public static long? ResidentBytes(int pid)
    {
        try
        {
            var fields = File.ReadAllText($"/proc/{pid}/statm").Split(' ');
            return long.Parse(fields[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Memory the kernel could give new processes without swapping (MemAvailable in /proc/meminfo), or null.</summary>
    public static long? AvailableMemoryBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(line => line.StartsWith("MemAvailable:", StringComparison.Ordinal));
            var kilobytes = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
            return kilobytes is null ? null : long.Parse(kilobytes, CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether the kernel moves the connections queued on a listening socket that closes to another socket of its
    /// SO_REUSEPORT group instead of resetting them (net.ipv4.tcp_migrate_req, Linux 5.14; off by default).
    /// </summary>
    public static bool MigratesReusePortRequests()
    {
        try
        {
            return File.ReadAllText("/proc/sys/net/ipv4/tcp_migrate_req").Trim() == "1";
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
