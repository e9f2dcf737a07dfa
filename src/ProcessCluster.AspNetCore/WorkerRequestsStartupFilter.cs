using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using ProcessCluster.AspNetCore.WebSockets;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// Ahead of the app's own middleware: counts every request for the heartbeat (the primary recycles on the total and
/// reads load from the requests in flight), and asks HTTP/1 clients to close the connection after this response while
/// the worker drains (so they reconnect to a worker that stays) or sheds connections (so they reconnect to a less
/// loaded one). It also makes every WebSocket the app accepts known to the drain (<see cref="WebSocketConnections"/>).
/// </summary>
internal sealed class WorkerRequestsStartupFilter(ClusterWorker worker, WorkerDrain drain, WebSocketConnections webSockets) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            worker.Load.RequestStarted();
            var http1 = !HttpProtocol.IsHttp2(context.Request.Protocol) && !HttpProtocol.IsHttp3(context.Request.Protocol);
            if (http1 && (drain.ClosingConnections || worker.Shedding.TakeConnection()))
            {
                context.Response.Headers.Connection = "close";
            }

            var webSocket = webSockets.Intercept(context);
            try
            {
                await nextMiddleware(context).ConfigureAwait(false);
            }
            finally
            {
                webSocket?.Forget();
                worker.Load.RequestFinished();
            }
        });
        next(app);
    };
}
