using ProcessCluster.Distribution;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary.Channels;

/// <summary>What a worker is told when its channel is claimed: its id, the endpoints, the report intervals, and the listening sockets it accepts on (Shared, ReusePort).</summary>
internal sealed class Welcome(ClusterOptions options, IReadOnlyList<BoundEndpoint> endpoints, IConnectionDistribution distribution, bool reportsLoad)
{
    public (WelcomeMessage Message, int[] Fds) For(WorkerHandle worker)
    {
        var message = new WelcomeMessage(
            worker.Id,
            options.Scheduling,
            endpoints.Select(endpoint => EndpointInfo.From(endpoint.Configured.EndPoint, endpoint.Bound)).ToList(),
            (int)options.HeartbeatInterval.TotalMilliseconds,
            reportsLoad ? (int)SupervisorContext.FastLoadReports.TotalMilliseconds : 0,
            ChannelProtocol.Version,
            ChannelProtocol.Library,
            // Only the admin endpoint exports them: without it, the worker need not measure.
            options.AdminUrl is null ? 0 : (int)SupervisorContext.FastLoadReports.TotalMilliseconds);
        return (message, distribution.ListenFdsFor(worker.Id));
    }
}
