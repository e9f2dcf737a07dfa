using System.CommandLine;
using System.Net.Sockets;
using System.Text.Encodings.Web;
using System.Text.Json;
using ProcessCluster;
using ProcessCluster.AspNetCore;
using ProcessCluster.Cli;
using ProcessCluster.Control;
using ProcessCluster.Primary;

// dotnet cluster: a primary of its own (run, exit codes as ClusterExitCodes), and a thin client of a running primary's
// control socket. The client's exit codes: 0 done, 1 the cluster refused or the command failed, 2 bad usage, 3 no
// running cluster could be reached; for upgrade also 4 the new build failed its check (the old primary serves on) and
// 5 the primary re-executed itself but its new build did not answer in time.

// An app's in-app primary with Cluster:LeanPrimaryProgram naming this program re-executed itself as it, in place.
if (LeanHandover.Take() is { } handedOver)
{
    return await LeanPrimary.RunAsync(handedOver);
}

const int Failed = 1;
const int Usage = 2;
const int Unreachable = 3;
const int CheckFailed = 4;
const int NotBack = 5;

var socketOption = new Option<string?>("--socket") { Description = "The primary's control socket file" };
var pidOption = new Option<int?>("--pid") { Description = "The primary's pid (its socket is found by it)" };
var jsonOption = new Option<bool>("--json") { Description = "Print the status as JSON, the same as the admin endpoint's /api/status" };
var countArgument = new Argument<string>("count") { Description = "N, +N or -N workers (write -N as: scale -- -1)" };
var workerArgument = new Argument<int>("worker") { Description = "The worker's id (see status)" };
var signalOption = new Option<string>("--signal") { Description = "The signal to send", DefaultValueFactory = _ => "SIGTERM" };
var fastOption = new Option<bool>("--fast") { Description = "Kill the workers instead of draining them (like SIGQUIT)" };
var timeoutOption = new Option<int>("--timeout") { Description = "Seconds to wait for the primary to exit", DefaultValueFactory = _ => 120 };

var status = new Command("status", "Show the workers: state, uptime, restarts, CPU, memory, requests") { jsonOption };
var indented = new ControlJson(new JsonSerializerOptions(ControlJson.Default.Options) { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
status.SetAction((parse, cancel) => RunAsync(parse, new ControlRequest("status"), (reply, _) =>
{
    Console.WriteLine(parse.GetValue(jsonOption) ? JsonSerializer.Serialize(reply.Status!, indented.ClusterStatus) : StatusTable.Render(reply.Status!));
    return Task.CompletedTask;
}, cancel));

var scale = new Command("scale", "Set the number of workers (autoscaling stays off until bounds are set again)") { countArgument };
scale.SetAction((parse, cancel) => RunAsync(parse, new ControlRequest("scale", Workers: parse.GetValue(countArgument)), PrintMessage, cancel));

var reload = new Command("reload", "Replace every worker, one at a time, without dropping a request");
reload.SetAction((parse, cancel) => RunAsync(parse, new ControlRequest("reload"), PrintMessage, cancel));

var upgrade = new Command("upgrade", "Re-execute the primary in place with the build on disk (same pid, workers kept; rolled if their code changed)") { timeoutOption };
upgrade.SetAction(async (parse, cancel) =>
{
    var (path, error) = PrimaryLocator.Find(parse.GetValue(socketOption), parse.GetValue(pidOption));
    if (path is null)
    {
        Console.Error.WriteLine(error);
        return Unreachable;
    }

    if (await StatusAsync(path, cancel) is not { } before)
    {
        Console.Error.WriteLine($"no primary answers at {path}");
        return Unreachable;
    }

    try
    {
        await foreach (var reply in ControlClient.SendAsync(path, new ControlRequest("upgrade"), cancel))
        {
            if (reply.IsFinal)
            {
                Console.Error.WriteLine(reply.Error ?? reply.Message);
                return reply.Error?.StartsWith("upgrade failed: check:", StringComparison.Ordinal) == true ? CheckFailed : Failed;
            }
        }
    }
    catch (Exception cut) when (cut is IOException or SocketException)
    {
        // No answer: the primary's program was replaced under the connection (the exec closes it).
    }

    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(parse.GetValue(timeoutOption));
    while (DateTime.UtcNow < deadline)
    {
        // The new program answers with its own start time.
        if (await StatusAsync(path, cancel) is { } after && after.StartedAt != before.StartedAt)
        {
            var kept = after.Workers.Count(worker => before.Workers.Any(old => old.Pid == worker.Pid));
            Console.WriteLine($"primary {after.Pid} upgraded in place (was {before.Pid}): {kept} of {before.Workers.Count} workers kept");
            return 0;
        }

        await Task.Delay(100, cancel);
    }

    Console.Error.WriteLine($"the primary re-executed itself but did not answer within {parse.GetValue(timeoutOption)} s");
    return NotBack;
});

var kill = new Command("kill", "Send a signal to one worker (the cluster replaces it)") { workerArgument, signalOption };
kill.SetAction((parse, cancel) => RunAsync(
    parse, new ControlRequest("kill", Worker: parse.GetValue(workerArgument), Signal: parse.GetValue(signalOption)), PrintMessage, cancel));

var stop = new Command("stop", "Stop the cluster: workers drain, then the primary exits") { fastOption, timeoutOption };
stop.SetAction((parse, cancel) => RunAsync(parse, new ControlRequest("stop", Fast: parse.GetValue(fastOption)), async (reply, path) =>
{
    Console.WriteLine(reply.Message);
    if (ControlSocketPath.PidOf(path) is { } pid)
    {
        await WaitForExitAsync(pid, TimeSpan.FromSeconds(parse.GetValue(timeoutOption)), cancel);
        Console.WriteLine($"primary {pid} has exited");
    }
}, cancel));

var urlsOption = new Option<string?>("--urls") { Description = $"The URLs to serve, ';'-separated (default: the app's urls setting or ASPNETCORE_URLS, else its http_ports/https_ports, else {ClusterEndpoint.DefaultUrl})" };
var commandArgument = new Argument<string[]>("command")
{
    Arity = ArgumentArity.OneOrMore,
    Description = "Settings as --Cluster:X=value, then the worker: an app that calls UseCluster(), e.g. -- dotnet app.dll",
};
var contentRootOption = new Option<string>("--contentRoot")
{
    Description = "Where the app's appsettings.json is, read for the cluster's settings as the app reads it (default: this directory)",
    DefaultValueFactory = _ => Environment.CurrentDirectory,
};
var checkOption = new Option<bool>("--check") { Description = "Read the settings and find the worker command, then exit 0 without binding or starting a worker (an upgrade's self-check)" };
var run = new Command("run", "Be the primary: start the command as workers, serve the URLs with them, supervise them")
{
    urlsOption,
    contentRootOption,
    checkOption,
    commandArgument,
};
run.SetAction(async (parse, _) =>
{
    // The leading --Section:Key=value tokens are settings; the command starts at the first token that is not one.
    var tokens = parse.GetValue(commandArgument)!;
    var settings = tokens.TakeWhile(token => token.StartsWith("--", StringComparison.Ordinal)).ToList();
    if (settings.FirstOrDefault(setting => !setting.Contains(':') || !setting.Contains('=')) is { } bad)
    {
        Console.Error.WriteLine($"'{bad}' is not a setting like --Cluster:Workers=4");
        return Usage;
    }

    if (settings.Count == tokens.Length)
    {
        Console.Error.WriteLine("no worker command: dotnet-cluster run [--urls URLS] [--Cluster:X=value ...] -- dotnet app.dll");
        return Usage;
    }

    return await StandalonePrimary.RunAsync(parse.GetValue(urlsOption), parse.GetValue(contentRootOption)!, tokens[settings.Count..], settings, parse.GetValue(checkOption));
});

var root = new RootCommand("Run a ProcessCluster primary, or see and steer a running one") { run, status, scale, reload, upgrade, kill, stop };
// The commands for a running primary find it by these; run is one.
foreach (var client in (Command[])[status, scale, reload, upgrade, kill, stop])
{
    client.Options.Add(socketOption);
    client.Options.Add(pidOption);
}

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors)
    {
        Console.Error.WriteLine(error.Message);
    }

    return Usage;
}

// The commands handle SIGTERM and SIGINT themselves (run drains its workers).
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

// Sends one request, prints progress as it comes, hands the final reply (and the socket's path) to onSuccess; the exit
// code follows the outcome.
async Task<int> RunAsync(ParseResult parse, ControlRequest request, Func<ControlReply, string, Task> onSuccess, CancellationToken cancel)
{
    var (path, error) = PrimaryLocator.Find(parse.GetValue(socketOption), parse.GetValue(pidOption));
    if (path is null)
    {
        Console.Error.WriteLine(error);
        return Unreachable;
    }

    try
    {
        await foreach (var reply in ControlClient.SendAsync(path, request, cancel))
        {
            if (reply.Event is { } progress)
            {
                Console.WriteLine($"  {progress.Time.ToLocalTime():HH:mm:ss.fff}  {progress.Message}");
            }
            else if (reply.Ok == true)
            {
                await onSuccess(reply, path);
                return 0;
            }
            else
            {
                Console.Error.WriteLine(reply.Error);
                return reply.Error?.StartsWith("refused", StringComparison.Ordinal) == true ? Unreachable : Failed;
            }
        }
    }
    catch (Exception failure) when (failure is SocketException or IOException or JsonException or FormatException)
    {
        Console.Error.WriteLine($"could not talk to the primary at {path}: {failure.Message}");
        return Unreachable;
    }
    catch (TimeoutException failure)
    {
        Console.Error.WriteLine(failure.Message);
        return Failed;
    }

    return Failed;
}

// The status, or null when nobody answers (yet).
static async Task<ClusterStatus?> StatusAsync(string path, CancellationToken cancel)
{
    try
    {
        await foreach (var reply in ControlClient.SendAsync(path, new ControlRequest("status"), cancel))
        {
            if (reply.IsFinal)
            {
                return reply.Status;
            }
        }
    }
    catch (Exception failure) when (failure is SocketException or IOException or JsonException or FormatException)
    {
    }

    return null;
}

static Task PrintMessage(ControlReply reply, string path)
{
    Console.WriteLine(reply.Message);
    return Task.CompletedTask;
}

static async Task WaitForExitAsync(int pid, TimeSpan timeout, CancellationToken cancel)
{
    var deadline = DateTime.UtcNow + timeout;
    while (Directory.Exists($"/proc/{pid}"))
    {
        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"primary {pid} is still running after {timeout.TotalSeconds:0} s");
        }

        await Task.Delay(100, cancel);
    }
}
