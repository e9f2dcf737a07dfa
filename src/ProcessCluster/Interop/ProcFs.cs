using System.Globalization;

namespace ProcessCluster.Interop;

/// <summary>What the primary reads about its workers from /proc.</summary>
internal static class ProcFs
{
    private static readonly long TicksPerSecond = Math.Max(1, Libc.sysconf(Libc._SC_CLK_TCK));

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
}
