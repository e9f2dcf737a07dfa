namespace ProcessCluster.Policies;

/// <summary>How long the worker ran, whether it ever became ready, and whether other workers still serve, when it died unasked.</summary>
internal readonly record struct WorkerDeath(TimeSpan Uptime, bool BecameReady, bool OthersServing = true);

/// <summary>What the restart policy remembers between deaths: deaths in a row, and when the recent early ones were.</summary>
internal sealed record RestartHistory(int DeathsInARow, IReadOnlyList<DateTimeOffset> EarlyDeaths)
{
    public static RestartHistory Empty { get; } = new(0, []);
}

/// <summary>Restart after <paramref name="Delay"/>, or — <paramref name="GiveUp"/> — stop restarting: it is a crash loop.</summary>
internal sealed record RestartDecision(TimeSpan Delay, bool GiveUp, bool Early, RestartHistory History);

/// <summary>
/// Crash-loop protection, the two mechanisms peers agree on. A backoff: each unasked death in a row waits twice as long
/// as the one before (Initial, 2×Initial, … up to Max); a worker that lived <see cref="StableUptime"/> resets it. And a
/// give-up budget: a worker that dies before it is ready, or younger than <see cref="MinUptime"/>, is an early death;
/// more than <see cref="Limit"/> of them within <see cref="Window"/> and restarting stops, so a broken build cannot keep
/// the machine forking. One exception to the delay: when the last serving worker dies and it had booted fine (not an
/// early death), its replacement starts at once: backoff guards the machine against fork storms, not at the price of
/// having no worker at all; deaths in a row still count, and early deaths are still bounded by the budget.
/// </summary>
internal sealed record RestartPolicy(TimeSpan Initial, TimeSpan Max, TimeSpan StableUptime, TimeSpan MinUptime, int Limit, TimeSpan Window)
{
    public static RestartPolicy From(ClusterOptions options) => new(
        options.RestartDelay, options.MaxRestartDelay, options.StableUptime, options.MinUptime, options.CrashLoopLimit, options.CrashLoopWindow);

    public RestartDecision Decide(RestartHistory history, WorkerDeath death, DateTimeOffset now)
    {
        var inARow = death.Uptime >= StableUptime ? 1 : history.DeathsInARow + 1;
        var doublings = Math.Min(inARow - 1, 30);
        var delay = TimeSpan.FromTicks(Math.Min(Initial.Ticks << doublings, Max.Ticks));
        var early = !death.BecameReady || death.Uptime < MinUptime;
        var earlyDeaths = history.EarlyDeaths.Where(at => now - at < Window).ToList();
        if (early)
        {
            earlyDeaths.Add(now);
        }

        if (delay < TimeSpan.Zero || (!early && !death.OthersServing))
        {
            delay = delay < TimeSpan.Zero ? Max : TimeSpan.Zero;
        }

        return new RestartDecision(delay, earlyDeaths.Count > Limit, early, new RestartHistory(inARow, earlyDeaths));
    }
}
