using System.Runtime.CompilerServices;

namespace SeedDemo;

/// <summary>The seed's deliberate CPU burn.</summary>
internal static class CpuWork
{
    private static long _sink;

    /// <summary>The seed's loop of 1e8 iterations. The sum is stored, so the JIT cannot drop the loop.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Run(int iterations = 100_000_000)
    {
        long sum = 0;
        for (var i = 0; i < iterations; i++)
        {
            sum += i;
        }

        Volatile.Write(ref _sink, sum);
    }
}
