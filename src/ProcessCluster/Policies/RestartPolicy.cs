namespace ProcessCluster.Policies;

/// <summary>
/// When to replace a worker that exited unasked. A worker that became ready is replaced at once: that is the seed's
/// promise. One that died before it was ready is replaced after a delay that doubles with each such failure in a row
/// (Initial, 2×Initial, … up to Max), so a worker that cannot boot does not turn the primary into a fork loop.
/// </summary>
public sealed record RestartPolicy(TimeSpan Initial, TimeSpan Max)
{
    public static RestartPolicy Default { get; } = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(15));

    /// <summary>The delay before the replacement, and the count of boot failures in a row after this exit.</summary>
    public (TimeSpan Delay, int BootFailures) Decide(int bootFailuresSoFar, bool becameReady)
    {
        if (becameReady)
        {
            return (TimeSpan.Zero, 0);
        }

        var failures = bootFailuresSoFar + 1;
        var doublings = Math.Min(failures - 1, 30);
        var delay = TimeSpan.FromTicks(Math.Min(Initial.Ticks << doublings, Max.Ticks));
        return (delay < TimeSpan.Zero ? Max : delay, failures);
    }
}
