using System.Runtime.InteropServices;
using System.Text;

namespace ProcessCluster.Interop;

/// <summary>Paths as the kernel sees them.</summary>
internal static unsafe class PathInterop
{
    /// <summary>The path with every symlink resolved (realpath(3)), or null when it does not exist.</summary>
    public static string? RealPath(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + '\0');
        fixed (byte* name = bytes)
        {
            var resolved = Libc.realpath(name, null);
            if (resolved is null)
            {
                return null;
            }

            try
            {
                return Marshal.PtrToStringUTF8((nint)resolved);
            }
            finally
            {
                Libc.free(resolved);
            }
        }
    }
}
