using System.Collections.ObjectModel;
using System.Net;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Worker;

/// <summary>
/// The cluster's endpoints as this worker serves them, in the primary's order, and which of them the app's server
/// has claimed. Claims are taken under a lock: Kestrel may bind several addresses at once.
/// </summary>
internal sealed class WorkerEndpoints : ReadOnlyCollection<WorkerEndpoint>
{
    private readonly HashSet<int> _claimed = [];
    private readonly Action<long, bool> _acknowledge;

    public WorkerEndpoints(WelcomeMessage welcome, int[] sharedFds, Action<long, bool> acknowledge)
        : base(welcome.Endpoints.Select((endpoint, index) => new WorkerEndpoint(
            index,
            endpoint.Configured(),
            endpoint.Bound(),
            welcome.Scheduling == SchedulingMode.RoundRobin ? new ConnectionInbox(acknowledge) : null,
            welcome.Scheduling == SchedulingMode.RoundRobin ? null : sharedFds[index])).ToList())
    {
        _acknowledge = acknowledge;
    }

    /// <summary>Claims the endpoint a server's bind request stands for (see <see cref="WorkerEndpoint.Match"/>).</summary>
    public WorkerEndpoint? Claim(EndPoint requested)
    {
        lock (_claimed)
        {
            var endpoint = WorkerEndpoint.Match(this, _claimed, requested);
            if (endpoint is not null)
            {
                _claimed.Add(endpoint.Index);
            }

            return endpoint;
        }
    }

    /// <summary>Whether <paramref name="requested"/> would be claimed, without claiming it.</summary>
    public bool CanClaim(EndPoint requested)
    {
        lock (_claimed)
        {
            return WorkerEndpoint.Match(this, _claimed, requested) is not null;
        }
    }

    /// <summary>Queues a connection the primary handed over in its endpoint's inbox, or refuses it back when there is none.</summary>
    public void Offer(long connectionId, int endpointIndex, int fd)
    {
        if (endpointIndex < Count && this[endpointIndex].Inbox is { } inbox)
        {
            inbox.Offer(connectionId, fd);
        }
        else
        {
            SocketInterop.Close(fd);
            _acknowledge(connectionId, false);
        }
    }
}
