namespace ProcessCluster.Policies;

/// <summary>One measured worker: the share of its last sample it spent with at least one request in flight, and its requests in flight at its last report.</summary>
internal readonly record struct WorkerLoad(double Busy, int InFlight);

/// <summary>
/// What the scaler sees at one step. <paramref name="Current"/> counts live workers (starting or ready, not draining);
/// <paramref name="Measured"/> has one entry per ready worker past its warm-up. Workers still warming up are left out,
/// and so count as idle.
/// </summary>
internal sealed record ScalingObservation(int Current, IReadOnlyList<WorkerLoad> Measured, int QueuedConnections, long FreeMemoryBytes);

/// <summary>What the scaler remembers: recent recommendations (for the scale-down window) and its flap guard.</summary>
internal sealed record ScalingState(IReadOnlyList<(DateTimeOffset At, int Recommended)> Recommendations, DateTimeOffset ObservingSince, DateTimeOffset? LastDownAt, DateTimeOffset DownHeldUntil)
{
    public static ScalingState Start(DateTimeOffset now) => new([], now, null, now);
}

/// <summary>The worker count to aim for, why, and the state to carry to the next tick.</summary>
internal sealed record ScalingDecision(int Desired, string Why, ScalingState State);

/// <summary>
/// The autoscaling law (after the Kubernetes HPA and uWSGI's busyness algorithm): desired = ceil(current × utilisation
/// / target), where utilisation is the mean busy fraction; nothing within the tolerance band. Up at once, by at most
/// max(+4, +100%) per tick; down only when even the highest recommendation over the window is below the current
/// count, one worker at a time and <see cref="DownSpacing"/> apart (so each step is measured before the next). A queue
/// of connections in the primary scales up without waiting for measurements, and so does a worker with
/// <see cref="InFlightFastPath"/> requests in flight: it counts as fully busy on that one report, before a busy fraction
/// could show it (a busy fraction needs a whole sample). Workers still warming up count as idle either way, so one
/// overloaded worker adds capacity once, not at every report until the new one is measured.
/// With <see cref="Min"/> 0 an idle cluster goes to no worker, and a connection waiting for none brings one back.
/// An up that follows a down within the window doubles the wait before the next down (flap penalty). No up while free
/// memory is below the floor.
/// </summary>
internal sealed record ScalingPolicy(int Min, int Max, double TargetBusy, double Tolerance, TimeSpan DownWindow, int QueueFastPath, long MinFreeMemoryBytes, int InFlightFastPath)
{
    public TimeSpan DownSpacing { get; init; } = TimeSpan.FromSeconds(2);

    public static ScalingPolicy From(ClusterOptions options) => new(
        options.MinWorkers,
        options.MaxWorkers,
        options.ScaleTargetBusy,
        options.ScaleTolerance,
        options.ScaleDownWindow,
        options.ScaleQueueFastPath,
        options.ScaleMinFreeMemoryMb * 1024L * 1024L,
        options.ScaleInFlightFastPath);

    public ScalingDecision Decide(ScalingState state, ScalingObservation observation, DateTimeOffset now)
    {
        var current = observation.Current;
        var (recommended, why) = Recommend(observation);
        var history = state.Recommendations.Where(entry => now - entry.At < DownWindow).Append((At: now, Recommended: recommended)).ToList();
        var next = state with { Recommendations = history };
        if (current < Min || current > Max)
        {
            return new ScalingDecision(Math.Clamp(current, Min, Max), $"{current} workers is outside {Min}..{Max}", next);
        }

        if (recommended > current)
        {
            // From zero, the connections held wait for this worker whatever the memory: no floor.
            if (observation.FreeMemoryBytes < MinFreeMemoryBytes && current > 0)
            {
                return new ScalingDecision(current, $"{why}, but only {observation.FreeMemoryBytes / (1024 * 1024)} MiB of memory is free", next);
            }

            var flapped = state.LastDownAt is { } down && now - down < DownWindow;
            return new ScalingDecision(
                Math.Min(recommended, current + Math.Max(4, current)),
                why,
                flapped ? next with { DownHeldUntil = now + 2 * DownWindow } : next);
        }

        var observedLongEnough = now - state.ObservingSince >= DownWindow;
        var spaced = state.LastDownAt is not { } lastDown || now - lastDown >= DownSpacing;
        if (history.Max(entry => entry.Recommended) < current && observedLongEnough && spaced && now >= state.DownHeldUntil)
        {
            return new ScalingDecision(current - 1, $"{why}, for {DownWindow.TotalSeconds:0} s", next with { LastDownAt = now });
        }

        return new ScalingDecision(current, why, next);
    }

    private (int Recommended, string Why) Recommend(ScalingObservation observation)
    {
        var current = observation.Current;
        if (observation.QueuedConnections >= QueueFastPath)
        {
            return (Math.Min(Max, current + Math.Max(4, current)), $"{observation.QueuedConnections} connections waiting in the primary");
        }

        if (current == 0 && observation.QueuedConnections > 0)
        {
            return (Math.Max(1, Min), $"{observation.QueuedConnections} connections waiting and no worker");
        }

        if (observation.Measured.Count == 0)
        {
            return (Math.Clamp(current, Min, Max), "no worker measured yet");
        }

        var overloaded = observation.Measured.Where(worker => worker.InFlight >= InFlightFastPath).ToList();
        var utilisation = observation.Measured.Sum(worker => worker.InFlight >= InFlightFastPath ? 1 : worker.Busy) / Math.Max(current, 1);
        var why = $"busy {utilisation:0.00} across {current} workers (target {TargetBusy:0.00})";
        if (overloaded.Count > 0)
        {
            why = $"in-flight fast path: {overloaded.Count} of {current} workers at {InFlightFastPath} or more requests in flight (most {overloaded.Max(worker => worker.InFlight)}), {why}";
        }

        var ratio = utilisation / TargetBusy;
        var recommended = Math.Abs(ratio - 1) <= Tolerance ? current : (int)Math.Ceiling(current * ratio - 1e-9);
        return (Math.Clamp(recommended, Min, Max), why);
    }
}
