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
var pid = Environment.ProcessId;

app.MapGet("/", () =>
{
    CpuWork.Run();
    return $"response from: {pid}";
});

app.MapGet("/kill-process", (HttpContext context) =>
{
    ProcessExit.AfterResponse(context, 0);
    return $"process: {pid} died";
});

app.MapGet("/hello", () => $"hello from {pid}");

// Diagnostics for the cluster's own tests: exit with a given code, or keep a CPU busy for a while.
app.MapGet("/exit/{code:int}", (HttpContext context, int code) =>
{
    ProcessExit.AfterResponse(context, code);
    return $"process: {pid} exits with {code}";
});

app.MapGet("/spin/{milliseconds:int}", (int milliseconds) =>
{
    CpuWork.Spin(TimeSpan.FromMilliseconds(milliseconds));
    return $"spun in: {pid}";
});

app.Run();
