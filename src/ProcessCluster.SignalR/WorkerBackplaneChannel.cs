using ProcessCluster.Ipc;
using ProcessCluster.Worker;

namespace ProcessCluster.SignalR;

/// <summary>The backplane through this worker's channel to the primary.</summary>
internal sealed class WorkerBackplaneChannel(ClusterWorker worker) : IBackplaneChannel
{
    public int WorkerId => worker.Id;

    public Action<BackplaneMessage> Handler
    {
        set => worker.BackplaneHandler = value;
    }

    public void Send(BackplaneMessage message) => worker.SendBackplane(message);

    // The worker runs a handler attached after the request at once, and each handler once.
    public void OnDraining(Action drain) => worker.DisconnectRequested += (_, _) => drain();
}
