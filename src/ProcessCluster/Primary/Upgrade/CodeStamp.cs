using System.Security.Cryptography;
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

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }
}
