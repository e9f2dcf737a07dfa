using System.Net.WebSockets;
using System.Text;
using ProcessCluster.Worker;

namespace ProcessCluster.TestApp;

/// <summary>
/// /ws/echo: a WebSocket that first says which process serves it, then echoes each message whole. With ?hold=true the
/// echo is sent in two fragments, the second only once this worker has been asked to drain (and a moment more, so the
/// drain's close is already waiting): a message in flight across the drain, on purpose.
/// </summary>
internal static class WebSocketEcho
{
    private static readonly TimeSpan HoldLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan AfterDrainStarts = TimeSpan.FromMilliseconds(500);

    public static void MapWebSocketEcho(this WebApplication app, int pid)
    {
        app.UseWebSockets();
        app.Map("/ws/echo", async (HttpContext context, bool? hold) =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                return Results.BadRequest("a WebSocket request is expected");
            }

            var worker = context.RequestServices.GetService<ClusterWorker>();
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await socket.SendAsync(Encoding.UTF8.GetBytes($"pid {pid}"), WebSocketMessageType.Text, endOfMessage: true, context.RequestAborted);
            while (await ReceiveAsync(socket, context.RequestAborted) is { } message)
            {
                if (hold == true && worker is not null && message.Length > 1)
                {
                    var half = message.Length / 2;
                    await socket.SendAsync(message.AsMemory(0, half), WebSocketMessageType.Binary, endOfMessage: false, context.RequestAborted);
                    await UntilDrainingAsync(worker);
                    await socket.SendAsync(message.AsMemory(half), WebSocketMessageType.Binary, endOfMessage: true, context.RequestAborted);
                }
                else
                {
                    await socket.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, context.RequestAborted);
                }
            }

            if (socket.State == WebSocketState.CloseReceived)
            {
                await socket.CloseAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, socket.CloseStatusDescription, context.RequestAborted);
            }

            return Results.Empty;
        });
    }

    /// <summary>One whole message, or null once the client closes.</summary>
    private static async Task<byte[]?> ReceiveAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        using var message = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return message.ToArray();
            }
        }
    }

    private static async Task UntilDrainingAsync(ClusterWorker worker)
    {
        var limit = DateTime.UtcNow + HoldLimit;
        while (!worker.IsDisconnectRequested && DateTime.UtcNow < limit)
        {
            await Task.Delay(10);
        }

        await Task.Delay(AfterDrainStarts);
    }
}
