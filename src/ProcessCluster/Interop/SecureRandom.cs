namespace ProcessCluster.Interop;

/// <summary>
/// Random bytes from the kernel (getrandom(2)) for channel names and worker secrets. Not RandomNumberGenerator: on
/// Linux that loads and initialises OpenSSL's libcrypto, a few MiB resident in a primary that otherwise never needs it.
/// </summary>
internal static unsafe class SecureRandom
{
    public static string Hex(int byteCount)
    {
        var bytes = new byte[byteCount];
        fixed (byte* buffer = bytes)
        {
            var filled = 0;
            while (filled < byteCount)
            {
                var read = Libc.getrandom(buffer + filled, (nuint)(byteCount - filled), 0);
                if (read < 0)
                {
                    var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }

                    throw new IOException($"getrandom failed (errno {errno})");
                }

                filled += (int)read;
            }
        }

        return Convert.ToHexStringLower(bytes);
    }
}
