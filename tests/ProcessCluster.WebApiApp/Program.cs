using System.Net;
using ProcessCluster.AspNetCore;

// The webapi template's Program.cs, trimmed (no OpenAPI; no HTTPS redirection, so the HTTP endpoint answers itself),
// plus UseCluster(). The tests add endpoints declared in code through two variables of their own.
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

app.Run();

internal sealed record WeatherForecast(DateOnly Date, int TemperatureC, string? Summary)
{
    public int TemperatureF => 32 + (int)(TemperatureC / 0.5556);
}
