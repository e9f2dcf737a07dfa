using System.Net;
using System.Net.WebSockets;
using System.Text;
using ProcessCluster.AspNetCore;

// The webapi template's Program.cs, trimmed (no OpenAPI; no HTTPS redirection, so the HTTP endpoint answers itself),
// plus UseCluster() and a WebSocket echo. The tests add endpoints declared in code through two variables of their own.
var builder = WebApplication.CreateBuilder(args);
builder.UseCluster();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    if (int.TryParse(Environment.GetEnvironmentVariable("WEBAPI_LISTEN_PORT"), out var port))
    {
        kestrel.Listen(IPAddress.Loopback, port);
    }

    if (Environment.GetEnvironmentVariable("WEBAPI_UNIX_SOCKET") is { Length: > 0 } socket)
    {
        kestrel.ListenUnixSocket(socket);
    }
});

var app = builder.Build();

var summaries = new[]
{
    "Freezing", "Bracing", "Chilly", "Cool", "Mild", "Warm", "Balmy", "Hot", "Sweltering", "Scorching",
};

app.MapGet("/weatherforecast", () =>
{
    var forecast = Enumerable.Range(1, 5).Select(index =>
        new WeatherForecast(
            DateOnly.FromDateTime(DateTime.Now.AddDays(index)),
            Random.Shared.Next(-20, 55),
            summaries[Random.Shared.Next(summaries.Length)]))
        .ToArray();
    return forecast;
})
.WithName("GetWeatherForecast");

// Which worker answered, over which protocol and scheme.
app.MapGet("/whoami", (HttpContext context) => $"{Environment.ProcessId} {context.Request.Protocol} {context.Request.Scheme}");

// A WebSocket echo as the ASP.NET Core docs write one, first saying which worker serves it.
app.UseWebSockets();
app.Map("/ws", async (HttpContext context) =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return;
    }

    using var socket = await context.WebSockets.AcceptWebSocketAsync();
    await socket.SendAsync(Encoding.UTF8.GetBytes($"pid {Environment.ProcessId}"), WebSocketMessageType.Text, endOfMessage: true, context.RequestAborted);
    var buffer = new byte[4096];
    while (await socket.ReceiveAsync(buffer, context.RequestAborted) is { MessageType: not WebSocketMessageType.Close } frame)
    {
        await socket.SendAsync(buffer.AsMemory(0, frame.Count), frame.MessageType, frame.EndOfMessage, context.RequestAborted);
    }

    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
});

app.Run();

internal sealed record WeatherForecast(DateOnly Date, int TemperatureC, string? Summary)
{
    public int TemperatureF => 32 + (int)(TemperatureC / 0.5556);
}
