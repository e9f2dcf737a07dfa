namespace ProcessCluster.Primary;

/// <summary>Where a worker is in its life, as the primary sees it. Only the supervisor loop moves it, through <see cref="WorkerStateMachine"/>.</summary>
public enum WorkerState
{
    /// <summary>Process started; its channel is not up yet.</summary>
    Starting,

    /// <summary>Channel up and authenticated (Node's 'online').</summary>
    Online,

    /// <summary>The app listens; connections are dispatched to it (Node's 'listening'). The only state that gets connections.</summary>
    Ready,

    /// <summary>The app listens but is kept in reserve (Cluster:WarmSpares): it gets connections once promoted to ready.</summary>
    Spare,

    /// <summary>Leaving: no new connections, in-flight work finishes, then it exits.</summary>
    Draining,

    /// <summary>Exited and reaped.</summary>
    Dead,
}

/// <summary>What moves a worker from one state to the next.</summary>
internal enum WorkerTrigger
{
    Connected,
    Listening,
    ListeningAsSpare,
    Promote,
    Drain,
    Exited,
}

/// <summary>
/// The one set of legal moves: starting → online → ready (or spare → ready) → draining → dead, and dead from anywhere. Anything else is
/// refused, so a late event (a worker reporting "listening" after it was told to drain) cannot put it back in dispatch.
/// </summary>
internal static class WorkerStateMachine
{
    public static WorkerState? Next(WorkerState state, WorkerTrigger trigger) => (state, trigger) switch
    {
        (WorkerState.Dead, _) => null,
        (_, WorkerTrigger.Exited) => WorkerState.Dead,
        (WorkerState.Draining, _) => null,
        (_, WorkerTrigger.Drain) => WorkerState.Draining,
        (WorkerState.Starting, WorkerTrigger.Connected) => WorkerState.Online,
        (WorkerState.Online, WorkerTrigger.Listening) => WorkerState.Ready,
        (WorkerState.Online, WorkerTrigger.ListeningAsSpare) => WorkerState.Spare,
        (WorkerState.Spare, WorkerTrigger.Promote) => WorkerState.Ready,
        _ => null,
    };
}
