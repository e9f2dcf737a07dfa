using System.Text.Json;
using ProcessCluster.Ipc;

namespace ProcessCluster.Worker;

/// <summary>What the primary may tell a worker once it is welcome, frame by frame.</summary>
internal interface IPrimaryFrameHandler
{
    /// <summary>A connection for endpoint <paramref name="endpointIndex"/>; the handler owns <paramref name="fd"/>.</summary>
    void ConnectionHandedOver(long connectionId, int endpointIndex, int fd);

    void MessageReceived(JsonElement message);

    void ShedRequested(int connections);

    void DisconnectRequested();

    /// <summary>Ask yourself for <paramref name="path"/> within <paramref name="timeout"/> and answer probe <paramref name="id"/>.</summary>
    void HealthProbeRequested(long id, TimeSpan timeout, string path);

    /// <summary>A SignalR backplane message another worker sent, relayed by the primary.</summary>
    void BackplaneReceived(BackplaneMessage message);
}
