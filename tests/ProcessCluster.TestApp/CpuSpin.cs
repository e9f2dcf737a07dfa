using System.Diagnostics;
using SeedDemo;

namespace ProcessCluster.TestApp;

/// <summary>A request that keeps a CPU busy for a set time, built on the seed's loop.</summary>
internal static class CpuSpin
{
    /// <summary>Keeps this thread's CPU busy for <paramref name="duration"/>.</summary>
    public static void For(TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            CpuWork.Run(1_000_000);
        }
    }
}
