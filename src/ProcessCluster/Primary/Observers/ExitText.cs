namespace ProcessCluster.Primary;

/// <summary>How an exit is told, the same in the log and the event log.</summary>
internal static class ExitText
{
    /// <summary>Why the cluster ended it (empty for an unasked death, told by how it ended), and what follows.</summary>
    public static (string Reason, string Next) Of(WorkerHandle worker, TimeSpan? restartIn)
    {
        var reason = worker.StopReason is null or StopReason.Exited or StopReason.Crashed or StopReason.KilledBySignal ? string.Empty : $" ({worker.StopReason.Value.Describe()})";
        var next = restartIn is { } delay ? $"; starting a replacement in {delay.TotalMilliseconds:0} ms" : string.Empty;
        return (reason, next);
    }
}
