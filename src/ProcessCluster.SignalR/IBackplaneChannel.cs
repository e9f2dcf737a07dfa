using ProcessCluster.Ipc;

namespace ProcessCluster.SignalR;

/// <summary>
/// The way from this worker's hubs to the other workers' (in a cluster, the channel to the primary, which relays each
/// message to every other worker that subscribed, in the order sent); the seam the lifetime manager's tests fill with
/// an in-memory relay.
/// </summary>
internal interface IBackplaneChannel
{
    /// <summary>This worker's id (above 0).</summary>
    int WorkerId { get; }

    /// <summary>Takes the messages other workers send, one at a time, in the order they arrived.</summary>
    Action<BackplaneMessage> Handler { set; }

    void Send(BackplaneMessage message);

    /// <summary>
    /// Runs <paramref name="drain"/> once when this worker drains (at once if it already does), before the worker closes
    /// its remaining WebSockets; its token ends when the time for it is up.
    /// </summary>
    void OnDraining(Func<CancellationToken, Task> drain);
}
