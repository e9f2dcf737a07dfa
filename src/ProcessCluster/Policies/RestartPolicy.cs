namespace ProcessCluster.Policies;

/// <summary>How long the worker ran and whether it ever became ready, when it died unasked.</summary>
internal readonly record struct WorkerDeath(TimeSpan Uptime, bool BecameReady);

/// <summary>What the restart policy remembers between deaths: deaths in a row, and when the recent early ones were.</summary>
internal sealed record RestartHistory(int DeathsInARow, IReadOnlyList<DateTimeOffset> EarlyDeaths)
{
    public static RestartHistory Empty { get; } = new(0, []);
}

/// <summary>Restart after <paramref name="Delay"/>, or — <paramref name="GiveUp"/> — stop restarting: it is a crash loop.</summary>
internal sealed record RestartDecision(TimeSpan Delay, bool GiveUp, bool Early, RestartHistory History);

/// <summary>
/// When a worker that died unasked is replaced. A worker that served (it became ready and lived
/// <see cref="MinUptime"/>) is replaced at once: its death says nothing against the next start, and every millisecond
/// of delay is capacity missing (Node's cluster waits for nothing either). A worker that died early (before it was
/// ready, or younger than <see cref="MinUptime"/>) is what crash-loop protection is for, with the two mechanisms peers
/// agree on. A backoff: each death in a row waits twice as long as the one before (Initial, 2×Initial, … up to Max),
/// counting the served deaths of the row too; a worker that lived <see cref="StableUptime"/> starts a new row. And a
/// give-up budget: more than <see cref="Limit"/> early deaths within <see cref="Window"/> and restarting stops, so a
/// broken build cannot keep the machine forking. Served deaths need no budget: each costs at least MinUptime.
/// </summary>
internal sealed record RestartPolicy(TimeSpan Initial, TimeSpan Max, TimeSpan StableUptime, TimeSpan MinUptime, int Limit, TimeSpan Window)
{
    public static RestartPolicy From(ClusterOptions options) => new(
        options.RestartDelay, options.MaxRestartDelay, options.StableUptime, options.MinUptime, options.CrashLoopLimit, options.CrashLoopWindow);

    public RestartDecision Decide(RestartHistory history, WorkerDeath death, DateTimeOffset now)
    {
        var inARow = death.Uptime >= StableUptime ? 1 : history.DeathsInARow + 1;
        var early = !death.BecameReady || death.Uptime < MinUptime;
        var earlyDeaths = history.EarlyDeaths.Where(at => now - at < Window).ToList();
        var delay = TimeSpan.Zero;
        if (early)
        {
            earlyDeaths.Add(now);
            var doubled = Initial.Ticks << Math.Min(inARow - 1, 30);
            // A shift past the sign bit is an overflow: the cap applies.
            delay = TimeSpan.FromTicks(doubled < 0 ? Max.Ticks : Math.Min(doubled, Max.Ticks));
        }

        return new RestartDecision(delay, earlyDeaths.Count > Limit, early, new RestartHistory(inARow, earlyDeaths));
    }
}
