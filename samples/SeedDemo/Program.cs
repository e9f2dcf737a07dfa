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

builder.UseCluster();
var app = builder.Build();
app.MapSeedRoutes();
app.Run();
