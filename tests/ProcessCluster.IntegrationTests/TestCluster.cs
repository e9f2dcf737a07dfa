using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using ProcessCluster.Control;
using ProcessCluster.Primary;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// An app (the test app unless told otherwise) started as a real cluster, primary and workers, for one test. Pids,
/// URLs and readiness come from the primary's status over its control socket, and every process of the test app
/// leaves its pid in a directory of this cluster's own; the log is collected line by line for the tests that are
/// about a log line. Disposing kills the primary and every process of the cluster still alive, by pid.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    /// <summary>The variable the test app reads (ProcessCluster.TestApp's StartRecord).</summary>
    private const string PidDirectoryVariable = "TESTAPP_PID_DIRECTORY";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly DirectoryInfo _pidDirectory;
    private readonly string _controlSocket;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ConcurrentDictionary<int, bool> _seenWorkers = new();

    private TestCluster(Process process, DirectoryInfo pidDirectory, string? controlSocket)
    {
        _process = process;
        _pidDirectory = pidDirectory;
        _controlSocket = controlSocket ?? ControlSocketPath.ForPid(process.Id);
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
    /// Starts <paramref name="app"/> (default: the test app) with <paramref name="workers"/> workers (null: as the
    /// settings say, autoscaling by default) and waits until its status shows that many (or one) ready; without
    /// <paramref name="waitUntilReady"/>, returns at once (for clusters that are not meant to come up).
    /// The app is its own primary, unless <paramref name="standalonePrimary"/> names a dotnet-cluster build
    /// (its .dll, or a native executable) to run it as `dotnet-cluster run -- dotnet App.dll` from
    /// <paramref name="workingDirectory"/> (default: the test's). A <paramref name="launcher"/> (a program and its
    /// arguments) runs first and must exec the primary's command line it is given, keeping its pid.
    /// <paramref name="standaloneOptions"/> go on dotnet-cluster run's command line, before the worker command, which
    /// <paramref name="workerWrapper"/> (a program and its arguments) may precede. With no
    /// <paramref name="urls"/>, the app's addresses come from its configuration alone.
    /// </summary>
    public static async Task<TestCluster> StartAsync(
        string scheduling,
        int? workers = 2,
        string? urls = "http://127.0.0.1:0",
        IReadOnlyDictionary<string, string>? environment = null,
        bool waitUntilReady = true,
        string? standalonePrimary = null,
        string? workingDirectory = null,
        string? app = null,
        IReadOnlyList<string>? launcher = null,
        IReadOnlyList<string>? standaloneOptions = null,
        IReadOnlyList<string>? workerWrapper = null)
    {
        app ??= TestAppAssembly;
        var program = standalonePrimary is null || standalonePrimary.EndsWith(".dll", StringComparison.Ordinal) ? "dotnet" : standalonePrimary;
        var start = new ProcessStartInfo(launcher?[0] ?? program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        if (launcher is not null)
        {
            foreach (var argument in launcher.Skip(1).Append(program))
            {
                start.ArgumentList.Add(argument);
            }
        }

        if (standalonePrimary is null)
        {
            start.ArgumentList.Add(app);
            if (urls is not null)
            {
                start.ArgumentList.Add($"--urls={urls}");
            }
        }
        else
        {
            if (standalonePrimary.EndsWith(".dll", StringComparison.Ordinal))
            {
                start.ArgumentList.Add(standalonePrimary);
            }

            foreach (var argument in (string[])["run", .. (urls is null ? Array.Empty<string>() : [$"--urls={urls}"]), .. standaloneOptions ?? [], "--", .. workerWrapper ?? [], "dotnet", app])
            {
                start.ArgumentList.Add(argument);
            }
        }
        if (workers is not null)
        {
            start.Environment["Cluster__Workers"] = workers.ToString();
        }

        var pidDirectory = Directory.CreateTempSubdirectory("processcluster-pids-");
        start.Environment[PidDirectoryVariable] = pidDirectory.FullName;
        start.Environment["Cluster__Scheduling"] = scheduling;
        start.Environment["Logging__LogLevel__ProcessCluster"] = "Debug";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var cluster = new TestCluster(Process.Start(start)!, pidDirectory, environment?.GetValueOrDefault("Cluster__ControlSocket"));
        try
        {
            if (waitUntilReady)
            {
                var status = await cluster.WaitForStatusAsync(
                    status => ReadyPids(status).Count >= (workers ?? 1), "workers ready", StartTimeout);
                cluster.Urls = status.Urls;
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The primary's status, read over its control socket (what `dotnet cluster status --json` prints).</summary>
    public async Task<ClusterStatus> StatusAsync() =>
        await TryStatusAsync() ?? throw new InvalidOperationException($"primary {PrimaryPid} does not answer on its control socket");

    /// <summary>Polls the status until <paramref name="condition"/> holds; returns that status.</summary>
    public async Task<ClusterStatus> WaitForStatusAsync(Func<ClusterStatus, bool> condition, string what, TimeSpan timeout)
    {
        ClusterStatus? last = null;
        await Poll.UntilAsync(
            async () =>
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"the primary exited with code {_process.ExitCode} while waiting for {what}\n{Tail()}");
                }

                last = await TryStatusAsync();
                return last is not null && condition(last);
            },
            timeout,
            what,
            () => $"last status: {Describe(last)}\n{Tail()}");
        return last!;
    }

    /// <summary>Polls until the pids of the serving (ready) workers satisfy <paramref name="condition"/>; returns them.</summary>
    public async Task<IReadOnlyList<int>> WaitForReadyPidsAsync(Func<IReadOnlyList<int>, bool> condition, string what, TimeSpan timeout) =>
        ReadyPids(await WaitForStatusAsync(status => condition(ReadyPids(status)), what, timeout));

    /// <summary>The pids of the serving workers now.</summary>
    public async Task<IReadOnlyList<int>> ReadyPidsAsync() => ReadyPids(await StatusAsync());

    /// <summary>Workers in state Ready (serving; a warm spare is not), in id order.</summary>
    public static IReadOnlyList<int> ReadyPids(ClusterStatus status) =>
        status.Workers.Where(worker => worker.State == WorkerState.Ready).OrderBy(worker => worker.Id).Select(worker => worker.Pid).ToList();

    /// <summary>Every worker process of the test app this cluster ever started, alive or not (from their pid files).</summary>
    public IReadOnlyList<int> StartedWorkerPids() =>
        _pidDirectory.GetFiles().Select(file => int.Parse(file.Name)).Where(pid => pid != PrimaryPid).ToList();

    /// <summary>Sends a signal to the primary (SIGHUP reloads, SIGTERM stops).</summary>
    public void Signal(int signal) => ProcessTree.Kill(PrimaryPid, signal);

    /// <summary>Waits for the primary to exit; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            // Whether the primary itself still runs, or only its output is still open, and what it said last.
            throw new TimeoutException(
                $"the primary (pid {PrimaryPid}, {(ProcessTree.IsAlive(PrimaryPid) ? "still running" : "exited, its output still open")}) did not end within {timeout.TotalSeconds} s; "
                + $"its children: {string.Join(", ", ChildPids())}; last lines:\n{string.Join('\n', _lines.TakeLast(30))}");
        }

        return _process.ExitCode;
    }

    /// <summary>Lines containing <paramref name="text"/> so far.</summary>
    public int CountLines(string text) => _lines.Count(line => line.Contains(text, StringComparison.Ordinal));

    /// <summary>The primary's child processes right now, read from /proc.</summary>
    public IReadOnlyList<int> ChildPids() => ProcessTree.Children(PrimaryPid);

    /// <summary>
    /// The admin endpoint's address (Cluster:AdminUrl on 127.0.0.1:0): the one port the primary listens on that is
    /// not one of the app's.
    /// </summary>
    public async Task<Uri> AdminAddressAsync()
    {
        var appPorts = Urls.Select(url => new Uri(url.Replace("://+:", "://127.0.0.1:", StringComparison.Ordinal)).Port).ToHashSet();
        var ports = Array.Empty<int>();
        await Poll.UntilAsync(() => (ports = ProcessTree.ListeningPorts(PrimaryPid).Except(appPorts).ToArray()).Length == 1, StartTimeout, "the admin endpoint listening");
        return new Uri($"http://127.0.0.1:{ports[0]}");
    }

    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout)
    {
        string? found = null;
        await Poll.UntilAsync(() => (found = _lines.FirstOrDefault(predicate)) is not null, timeout, "a log line", Tail);
        return found!;
    }

    public async ValueTask DisposeAsync()
    {
        var children = _process.HasExited ? [] : ChildPids();
        ProcessTree.Kill(_process.Id);
        foreach (var pid in children.Concat(_seenWorkers.Keys).Concat(StartedWorkerPids()).Distinct())
        {
            // A pid seen earlier may be another process's by now: only one that carries this cluster's mark is killed.
            if (children.Contains(pid) || IsOurs(pid))
            {
                ProcessTree.Kill(pid);
            }
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
        _pidDirectory.Delete(recursive: true);
    }

    /// <summary>The test app's build output in this build's configuration.</summary>
    public static string TestAppAssembly => BuiltAssembly(Path.Combine("tests", "ProcessCluster.TestApp"), "ProcessCluster.TestApp.dll");

    /// <summary>The seed's demo, the README's first command.</summary>
    public static string SeedDemoAssembly => BuiltAssembly(Path.Combine("samples", "SeedDemo"), "SeedDemo.dll");

    /// <summary>The SignalR chat sample (samples/Chat).</summary>
    public static string ChatAssembly => BuiltAssembly(Path.Combine("samples", "Chat"), "Chat.dll");

    /// <summary>The repository's root: the directory above the tests' output that holds ProcessCluster.slnx.</summary>
    public static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ProcessCluster.slnx")))
            {
                directory = directory.Parent;
            }

            return directory?.FullName ?? throw new DirectoryNotFoundException($"no ProcessCluster.slnx above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>A project's output in this build's configuration, found from the solution's root.</summary>
    public static string BuiltAssembly(string projectDirectory, string fileName)
    {
        var configuration = typeof(TestCluster).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var path = Path.Combine(RepositoryRoot, projectDirectory, "bin", configuration, "net10.0", fileName);
        return File.Exists(path) ? path : throw new FileNotFoundException("build the solution first", path);
    }

    /// <summary>The status over the control socket; null while the primary has no socket yet or has closed it.</summary>
    private async Task<ClusterStatus?> TryStatusAsync()
    {
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(_controlSocket), timeout.Token);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(Encoding.UTF8.GetBytes(new ControlRequest("status").ToLine() + "\n"), timeout.Token);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var line = await reader.ReadLineAsync(timeout.Token);
            var status = line is null ? null : ControlReply.Parse(line).Status;
            foreach (var worker in status?.Workers ?? [])
            {
                _seenWorkers.TryAdd(worker.Pid, true);
            }

            return status;
        }
        catch (Exception error) when (error is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    private bool IsOurs(int pid)
    {
        try
        {
            return ProcessTree.Environment(pid).GetValueOrDefault(PidDirectoryVariable) == _pidDirectory.FullName;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private void Collect(string? line)
    {
        if (line is not null)
        {
            _lines.Enqueue(line);
        }
    }

    private string Tail() => string.Join('\n', _lines.TakeLast(40));

    private static string Describe(ClusterStatus? status) =>
        status is null ? "none" : string.Join(", ", status.Workers.Select(worker => $"{worker.Id}:{worker.Pid}:{worker.State}"));
}
