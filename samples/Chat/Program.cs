// A chat that spans the cluster's workers: `npm ci` in samples/Chat once (.ci/setup does it), then `dotnet run --project samples/Chat` and open
// http://127.0.0.1:5000 in two browsers: each message reaches both, whichever worker holds each.
using Chat;
using Microsoft.Extensions.FileProviders;
using ProcessCluster.AspNetCore;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.UseCluster();
var signalR = builder.Services.AddSignalR().AddClusterBackplane();
// SignalR's Redis backplane in place of the cluster's, for comparison (bench/signalr.sh): Chat:Redis is a
// StackExchange.Redis connection string. The cluster's worker-named connection tokens stay (Cluster:Affinity).
if (builder.Configuration["Chat:Redis"] is { Length: > 0 } redis)
{
    signalR.AddStackExchangeRedis(redis);
}

var app = builder.Build();
app.UseDefaultFiles();
app.UseStaticFiles();

// The JavaScript client, @microsoft/signalr from npm: its browser build, wherever npm put it (Chat:SignalRClient).
var client = app.Configuration["Chat:SignalRClient"] ?? Path.Combine(AppContext.BaseDirectory, "../../../node_modules/@microsoft/signalr/dist/browser");
if (Directory.Exists(client))
{
    app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(Path.GetFullPath(client)), RequestPath = "/lib/signalr" });
}

app.MapHub<ChatHub>("/chat");
app.Run();
