using Microsoft.Extensions.Diagnostics.HealthChecks;
using ProcessCluster;
using ProcessCluster.AspNetCore;
using ProcessCluster.Primary;
using ProcessCluster.TestApp;
using ProcessCluster.Worker;
using SeedDemo;

StartRecord.Write();
HostileWorker.RunIfChosen();
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.UseCluster();
if (builder.Configuration.GetValue("TestApp:ListenInCode", false))
{
    // An endpoint only the app's code knows (no URL, no configuration): the primary learns it from Kestrel alone.
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0));
}

builder.Services.AddHealthChecks().AddCheck("flippable", () => Faults.Sick ? HealthCheckResult.Unhealthy("made sick by /health/fail") : HealthCheckResult.Healthy());
var app = builder.Build();
var pid = Environment.ProcessId;
var release = Cluster.IsWorker || !builder.Configuration.GetValue("Cluster:Enabled", true) ? Faults.ReadRelease() : "primary";

// The build: read from appsettings.json next to the app's .dll, so a test can tell which copy of the app runs.
var build = app.Configuration["TestApp:Build"] ?? "dev";

app.MapSeedRoutes();
app.MapWebSocketEcho(pid);

// Exit with a given code, or keep a CPU busy for a while.
app.MapGet("/exit/{code:int}", (HttpContext context, int code) =>
{
    ProcessExit.AfterResponse(context, code);
    return $"process: {pid} exits with {code}";
});

app.MapGet("/spin/{milliseconds:int}", (int milliseconds) =>
{
    CpuSpin.For(TimeSpan.FromMilliseconds(milliseconds));
    return $"spun in: {pid}";
});

// A request that is visibly in flight: the first line is sent at once, the rest after a while.
app.MapGet("/slow/{milliseconds:int}", async (HttpContext context, int milliseconds) =>
{
    await context.Response.WriteAsync($"started in {pid}\n");
    await context.Response.Body.FlushAsync();
    await Task.Delay(milliseconds);
    await context.Response.WriteAsync($"finished in {pid}\n");
});

// Faults for the supervision tests: a hung worker, a leaking one, and the release read at start (a deploy).
app.MapGet("/hang", (HttpContext context) =>
{
    // Answer first (so the caller learns which worker hangs), then block the pool.
    context.Response.OnCompleted(() =>
    {
        Faults.StarveThreadPool();
        return Task.CompletedTask;
    });
    return $"hanging: {pid}";
});

app.MapGet("/leak/{megabytes:int}", (int megabytes) => $"leaked in {pid}: {Faults.Leak(megabytes)} MiB");

app.MapGet("/release", () => $"release {release} build {build} from {pid}");

// The app's health check (Cluster:WorkerHealthPath=/health), and a way to make this one worker fail it.
app.MapHealthChecks("/health");
app.MapGet("/health/fail", () =>
{
    Faults.Sick = true;
    return $"sick: {pid}";
});

// Output for the log tests: long lines in small pieces on stdout and stderr (see Printer).
app.MapGet("/print/{lines:int}/{length:int}", (int lines, int length) =>
{
    Printer.Print(lines, length);
    return $"printed in {pid}";
});

// Node-style messages, both ways: the primary greets each worker as it comes online, the worker answers.
if (app.Services.GetService<ClusterPrimary>() is { } primary)
{
    primary.Online += (_, e) => e.Worker.Send(new { greeting = "hello", worker = e.Worker.Id });
    primary.Message += (_, e) => app.Logger.LogInformation("Worker {Id} (pid {Pid}) says {Message}", e.Worker.Id, e.Worker.ProcessId, e.Message);
    // A worker asking for {"flood": n} gets n messages of 64 KiB, sent from the handler, on the supervisor loop's thread.
    primary.Message += (_, e) => MessageFlood.SendIfAsked(e, app.Logger);
}
else if (app.Services.GetService<ClusterWorker>() is { } worker)
{
    worker.Message += (_, message) => worker.Send(new { reply = message, pid });

    // Node's worker-side 'disconnect' handler choosing the exit code (test-cluster-worker-disconnect): the drain goes on.
    if (int.TryParse(Environment.GetEnvironmentVariable("TESTAPP_EXIT_CODE_ON_DISCONNECT"), out var disconnectExitCode))
    {
        worker.DisconnectRequested += (_, _) => Environment.ExitCode = disconnectExitCode;
    }
}

app.Run();
