using System.Text;
using ProcessCluster.Interop;

namespace ProcessCluster.Primary;

/// <summary>
/// Which code a worker command runs, as a short fingerprint: each file its command line names (the app's .dll for
/// "dotnet app.dll", or the apphost), resolved through symlinks, with its size and modification time, and the
/// release directory. A symlink swap (current -> releases/v2) or a dll overwritten in place changes it; after an
/// in-place upgrade, workers whose fingerprint differs from the one on disk now are rolled.
/// </summary>
internal static class CodeStamp
{
    public static string Of(WorkerCommand command, string? release)
    {
        var text = new StringBuilder(release);
        foreach (var argument in command.Arguments.Prepend(command.Path))
        {
            var path = PathInterop.RealPath(Path.GetFullPath(argument, command.WorkingDirectory ?? Environment.CurrentDirectory));
            if (path is not null && File.Exists(path))
            {
                var file = new FileInfo(path);
                text.Append('\n').Append(path).Append(' ').Append(file.Length).Append(' ').Append(file.LastWriteTimeUtc.Ticks);
            }
        }

        return Fnv1a(Encoding.UTF8.GetBytes(text.ToString())).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// FNV-1a, 64 bits: the same in every process (HashCode is seeded per process, and the new program compares), and no
    /// cryptography, which would map OpenSSL into the primary for a change check that no one attacks.
    /// </summary>
    private static ulong Fnv1a(ReadOnlySpan<byte> bytes)
    {
        var hash = 14695981039346656037UL;
        foreach (var value in bytes)
        {
            hash = (hash ^ value) * 1099511628211UL;
        }

        return hash;
    }
}
