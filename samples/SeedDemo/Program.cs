using System.Net.Sockets;
using ProcessCluster.AspNetCore;
using SeedDemo;

// The slim builder: Node's twin is a bare `http` server, so the demo skips what it never uses (IIS integration, host
// filtering, the EventSource/Debug log providers, regex route constraints); HTTPS endpoints stay configurable (the TLS
// benchmarks give Kestrel a certificate through configuration).
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.WebHost.UseKestrelHttpsConfiguration();
if (builder.Configuration["urls"] is null)
{
    // As in the seed: the port comes from PORT. Explicit URLs (--urls, ASPNETCORE_URLS) win.
    builder.WebHost.UseUrls($"http://0.0.0.0:{builder.Configuration["PORT"] ?? "3000"}");
}

if (bool.TryParse(builder.Configuration["ReusePort"], out var reusePort) && reusePort)
{
    // bench/compare.sh's plain-reuseport system: several plain copies of the demo on one port, without ProcessCluster,
    // to measure what running more than one .NET process costs by itself (on Linux, ReuseAddress sets SO_REUSEPORT too).
    builder.WebHost.UseSockets(sockets => sockets.CreateBoundListenSocket = endpoint =>
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.Bind(endpoint);
        return socket;
    });
}

builder.UseCluster();
var app = builder.Build();
app.MapSeedRoutes();
app.Run();
