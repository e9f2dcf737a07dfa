using System.Text;

namespace ProcessCluster.TestApp;

/// <summary>Output for the cluster's log tests: long lines written in many small pieces, from several threads.</summary>
internal static class Printer
{
    private const int PieceBytes = 64;

    private static readonly Stream Stdout = Console.OpenStandardOutput();
    private static readonly Stream Stderr = Console.OpenStandardError();
    private static readonly Lock LineLock = new();

    /// <summary>
    /// Prints <paramref name="lines"/> lines of <paramref name="length"/> characters ("print PID N stdout xxx…"), even
    /// ones on stdout and odd ones on stderr, 64 bytes per write(2), from 4 threads. One line at a time in this process
    /// (a worker's own threads are its business), so a line mixed with another seen in the primary's output comes from
    /// between workers.
    /// </summary>
    public static void Print(int lines, int length) =>
        Parallel.For(0, lines, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var (name, stream) = i % 2 == 0 ? ("stdout", Stdout) : ("stderr", Stderr);
            var bytes = Encoding.UTF8.GetBytes($"print {Environment.ProcessId} {i} {name} ".PadRight(length, 'x') + "\n");
            lock (LineLock)
            {
                for (var offset = 0; offset < bytes.Length; offset += PieceBytes)
                {
                    stream.Write(bytes, offset, Math.Min(PieceBytes, bytes.Length - offset));
                }
            }
        });
}
