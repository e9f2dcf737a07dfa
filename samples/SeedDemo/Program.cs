using ProcessCluster.AspNetCore;
using SeedDemo;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
if (builder.Configuration["urls"] is null)
{
    // As in the seed: the port comes from PORT. Explicit URLs (--urls, ASPNETCORE_URLS) win.
    builder.WebHost.UseUrls($"http://0.0.0.0:{builder.Configuration["PORT"] ?? "3000"}");
}

builder.UseCluster();
var app = builder.Build();
app.MapSeedRoutes();
app.Run();
