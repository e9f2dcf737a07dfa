using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// Counts every request the worker serves, ahead of the app's own middleware, for the heartbeat: the primary recycles
/// on the total (Cluster:MaxRequests) and reads load from the requests in flight.
/// </summary>
internal sealed class RequestCountingStartupFilter(ClusterWorker worker) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            worker.RequestStarted();
            try
            {
                await nextMiddleware(context).ConfigureAwait(false);
            }
            finally
            {
                worker.RequestFinished();
            }
        });
        next(app);
    };
}
