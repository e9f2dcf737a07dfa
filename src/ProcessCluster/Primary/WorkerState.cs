namespace ProcessCluster.Primary;

/// <summary>Where a worker is in its life, as the primary sees it. Only the supervisor loop moves it forward.</summary>
public enum WorkerState
{
    /// <summary>Process started; its channel is not up yet.</summary>
    Starting,

    /// <summary>Channel up and authenticated (Node's 'online').</summary>
    Online,

    /// <summary>The app listens; connections are dispatched to it (Node's 'listening').</summary>
    Ready,

    /// <summary>Asked to stop: no new connections, in-flight work finishes.</summary>
    Stopping,

    /// <summary>Exited and reaped.</summary>
    Dead,
}
