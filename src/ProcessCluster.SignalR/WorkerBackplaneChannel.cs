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

    // One of the worker's drain steps: run before the drain closes the WebSockets left.
    public void OnDraining(Func<CancellationToken, Task> drain) => worker.DrainSteps.Add(drain);
}
