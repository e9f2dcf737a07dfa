using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using ProcessCluster.Distribution;
using ProcessCluster.Primary;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// The lean primary's side of the hand-over (<see cref="LeanHandover"/>), run by <c>StartupHook</c> before the app's
/// Main: the supervisor alone on the listening sockets and the settings the app's host resolved, with the app's
/// command line as the workers' (this process runs it, re-executed).
/// </summary>
internal static class LeanPrimary
{
    public static async Task<int> RunAsync(LeanState state)
    {
        var logging = new ConfigurationBuilder().AddInMemoryCollection(state.Logging).Build().GetSection("Logging");
        using var loggerFactory = SupervisorRun.CreateLogging(logging, state.Options.LogFormat);
        var logger = loggerFactory.CreateLogger("ProcessCluster.Primary");
        var endpoints = SocketActivation.Take(logger)
            .Select((passed, index) => new BoundEndpoint(index, new ClusterEndpoint(passed.Scheme, passed.Requested ?? passed.Socket.LocalEndPoint!), passed.Socket, passed.Origin))
            .ToList();
        logger.LeanPrimaryRunning(Environment.ProcessId, endpoints.Count);
        // The app's command line: this process's own when it is the app re-executed, not when it is a native program.
        await using var primary = new ClusterPrimary(state.Options, loggerFactory, state.App) { UpgradeProgram = state.App };
        return await SupervisorRun.RunAsync(primary, loggerFactory, logger, () => primary.StartOn(endpoints)).ConfigureAwait(false);
    }
}
