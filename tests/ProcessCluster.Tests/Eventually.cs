using System.Diagnostics;

namespace ProcessCluster.Tests;

/// <summary>Waits on state, not time: polls a condition until it holds, failing at a deadline with what was awaited.</summary>
internal static class Eventually
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? within = null) => UntilAsync(condition, () => what, within);

    /// <param name="what">Says what was awaited, read only on failure (it may describe the state then).</param>
    public static async Task UntilAsync(Func<bool> condition, Func<string> what, TimeSpan? within = null)
    {
        var limit = within ?? Deadline;
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"not within {limit.TotalSeconds} s: {what()}");
            }

            await Task.Delay(5);
        }
    }
}
