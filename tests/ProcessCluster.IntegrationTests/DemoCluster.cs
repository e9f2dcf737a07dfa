using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// The seed demo started as a real cluster (primary + workers) for one test. Its output is collected line by line;
/// disposing kills the primary and every worker it ever had, by pid.
/// </summary>
public sealed partial class DemoCluster : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ConcurrentDictionary<int, bool> _seenWorkers = new();

    private DemoCluster(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Collect(e.Data);
        _process.ErrorDataReceived += (_, e) => Collect(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int PrimaryPid => _process.Id;

    public IReadOnlyList<string> Urls { get; private set; } = [];

    /// <summary>The first URL's base address, for HttpClient (the "+" host becomes 127.0.0.1).</summary>
    public Uri BaseAddress => new(Urls[0].Replace("://+:", "://127.0.0.1:", StringComparison.Ordinal));

    public IReadOnlyCollection<string> Lines => _lines;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// Starts the demo with <paramref name="workers"/> workers (null: as the settings say, autoscaling by default) and
    /// waits until all of them (or the first) are ready; without
    /// <paramref name="waitUntilReady"/>, returns at once (for clusters that are not meant to come up).
    /// The demo is its own primary, unless <paramref name="standalonePrimary"/> names a dotnet-cluster build
    /// (its .dll, or a native executable) to run it as `dotnet-cluster run -- dotnet SeedDemo.dll` from
    /// <paramref name="workingDirectory"/> (default: the test's).
    /// </summary>
    public static async Task<DemoCluster> StartAsync(
        string scheduling,
        int? workers = 2,
        string urls = "http://127.0.0.1:0",
        IReadOnlyDictionary<string, string>? environment = null,
        bool waitUntilReady = true,
        string? standalonePrimary = null,
        string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(standalonePrimary is null || standalonePrimary.EndsWith(".dll", StringComparison.Ordinal) ? "dotnet" : standalonePrimary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        if (standalonePrimary is null)
        {
            start.ArgumentList.Add(DemoAssembly);
            start.ArgumentList.Add($"--urls={urls}");
        }
        else
        {
            if (standalonePrimary.EndsWith(".dll", StringComparison.Ordinal))
            {
                start.ArgumentList.Add(standalonePrimary);
            }

            foreach (var argument in (string[])["run", $"--urls={urls}", "--", "dotnet", DemoAssembly])
            {
                start.ArgumentList.Add(argument);
            }
        }
        if (workers is not null)
        {
            start.Environment["Cluster__Workers"] = workers.ToString();
        }

        start.Environment["Cluster__Scheduling"] = scheduling;
        start.Environment["Logging__LogLevel__ProcessCluster"] = "Debug";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var cluster = new DemoCluster(Process.Start(start)!);
        try
        {
            if (waitUntilReady)
            {
                var initialising = await cluster.WaitForLineAsync(line => line.Contains("initialising cluster"), StartTimeout);
                cluster.Urls = UrlsPattern().Match(initialising).Groups[1].Value.Split(", ");
                await Poll.UntilAsync(() => cluster.ReadyWorkerPids().Count >= (workers ?? 1), StartTimeout, "workers ready");
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Pids from "Worker N (pid P) started on ..." lines, minus those logged as exited.</summary>
    public IReadOnlyList<int> ReadyWorkerPids()
    {
        var started = new List<int>();
        var exited = new HashSet<int>();
        foreach (var line in _lines)
        {
            if (WorkerLine().Match(line) is { Success: true } match)
            {
                var pid = int.Parse(match.Groups[1].Value);
                if (match.Groups[2].Value == "started on")
                {
                    started.Add(pid);
                }
                else
                {
                    exited.Add(pid);
                }
            }
        }

        return started.Where(pid => !exited.Contains(pid)).ToList();
    }

    /// <summary>Sends a signal to the primary (SIGHUP reloads, SIGTERM stops).</summary>
    public void Signal(int signal) => ProcessTree.Kill(PrimaryPid, signal);

    /// <summary>Waits for the primary to exit; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    /// <summary>Lines containing <paramref name="text"/> so far.</summary>
    public int CountLines(string text) => _lines.Count(line => line.Contains(text, StringComparison.Ordinal));

    /// <summary>The primary's child processes right now, read from /proc.</summary>
    public IReadOnlyList<int> ChildPids() => ProcessTree.Children(PrimaryPid);

    /// <summary>The admin endpoint's address, from the primary's "Admin endpoint on ..." line (Cluster:AdminUrl).</summary>
    public async Task<Uri> AdminAddressAsync()
    {
        var line = await WaitForLineAsync(line => line.Contains("Admin endpoint on", StringComparison.Ordinal), StartTimeout);
        return new Uri(AdminUrlPattern().Match(line).Groups[1].Value);
    }

    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout)
    {
        string? found = null;
        await Poll.UntilAsync(() => (found = _lines.FirstOrDefault(predicate)) is not null, timeout, "a log line", () => string.Join('\n', _lines.TakeLast(40)));
        return found!;
    }

    private void Collect(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        if (WorkerLine().Match(line) is { Success: true } match)
        {
            _seenWorkers.TryAdd(int.Parse(match.Groups[1].Value), true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        var workers = _seenWorkers.Keys.Concat(_process.HasExited ? [] : ChildPids()).Distinct().ToList();
        ProcessTree.Kill(_process.Id);
        foreach (var pid in workers)
        {
            ProcessTree.Kill(pid);
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }

    public static string DemoAssembly => BuiltAssembly(Path.Combine("tests", "ProcessCluster.TestApp"), "ProcessCluster.TestApp.dll");

    /// <summary>A project's output in this build's configuration, found from the solution's root.</summary>
    public static string BuiltAssembly(string projectDirectory, string fileName)
    {
        var configuration = typeof(DemoCluster).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ProcessCluster.slnx")))
        {
            directory = directory.Parent;
        }

        var path = Path.Combine(directory!.FullName, projectDirectory, "bin", configuration, "net10.0", fileName);
        return File.Exists(path) ? path : throw new FileNotFoundException("build the solution first", path);
    }

    // Up to a quote: in JSON log format the message is followed by the rest of the object.
    [GeneratedRegex(@"listening on ([^""]+)")]
    private static partial Regex UrlsPattern();

    [GeneratedRegex(@"Admin endpoint on (http://[0-9.]+:\d+)")]
    private static partial Regex AdminUrlPattern();

    [GeneratedRegex(@"Worker \d+ \(pid (\d+)\) (started on|killed by|exited)")]
    private static partial Regex WorkerLine();
}
