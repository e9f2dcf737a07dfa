using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using ProcessCluster.Primary;

namespace ProcessCluster.IntegrationTests.NodeParity;

/// <summary>
/// A primary hosted in this test process, as Node's tests run <c>cluster</c> in theirs, with the test app as its
/// workers; every event is recorded with the worker's flags at that moment. Disposing it checks Node's cleanup
/// invariant: the primary's (this process's) descriptors are back to their count before the scenario, and no worker
/// pid is left.
/// </summary>
public sealed class ParityCluster : IAsyncDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>
    /// One whole scenario, uncounted, before the first counted one: the runtime opens some descriptors for good the first
    /// time they are needed (the signal pipe it opens when the console is first used), and those are not the scenario's.
    /// </summary>
    private static readonly Lazy<Task> WarmUp = new(async () =>
    {
        await using var cluster = new ParityCluster(new ClusterOptions { Workers = 1 }, "http://127.0.0.1:0", [], counted: false);
        cluster.Primary.Start(ClusterEndpoint.ParseUrls(["http://127.0.0.1:0"]));
        var worker = await cluster.ReadyWorkerAsync(1);
        using var client = new AppClient(cluster.BaseAddress);
        Assert.Equal(worker.ProcessId, await client.HelloPidAsync());
        // A line of output, relayed to this process's console: its first use opens the runtime's signal pipe.
        Assert.Equal($"printed in {worker.ProcessId}", await client.GetAsync("/print/1/16"));
        await cluster.Primary.StopAsync(CancellationToken.None);
    });

    private readonly List<string>? _descriptorsBefore;
    private readonly ConcurrentQueue<ParityEvent> _events = new();
    private readonly ConcurrentDictionary<int, WorkerExitedEventArgs> _exits = new();
    private readonly ConcurrentDictionary<int, int> _pids = new();
    private bool _disposed;

    private ParityCluster(ClusterOptions options, string urls, IReadOnlyList<string> workerEnvironment, bool counted = true)
    {
        _descriptorsBefore = counted ? Descriptors() : null;
        // Workers run the test app with the primary's URLs and drain timeout (a worker gives its clients a quarter of it
        // to close their connections), as a primary that forks itself would; env(1) adds them, and the scenario's
        // variables, to the environment they inherit.
        string[] command =
        [
            "env", $"Cluster__DrainTimeout={options.DrainTimeout:c}", .. workerEnvironment, "dotnet", TestCluster.TestAppAssembly, $"--urls={urls}",
        ];
        Primary = new ClusterPrimary(options, NullLoggerFactory.Instance, new WorkerCommand("/usr/bin/env", command));
        Primary.Forked += (_, e) => Record("fork", e.Worker);
        Primary.Online += (_, e) => Record("online", e.Worker);
        Primary.Listening += (_, e) => Record($"listening {e.Address}", e.Worker);
        Primary.Disconnected += (_, e) => Record("disconnect", e.Worker);
        Primary.Exited += (_, e) =>
        {
            _exits[e.Worker.Id] = e;
            Record("exit", e.Worker);
        };
    }

    public ClusterPrimary Primary { get; }

    public IReadOnlyCollection<ParityEvent> Events => _events;

    /// <summary>The primary's first URL.</summary>
    public Uri BaseAddress => new(Primary.Urls[0]);

    /// <summary>
    /// Starts a primary with <paramref name="options"/> on <paramref name="urls"/>; <paramref name="workerEnvironment"/>
    /// holds NAME=value pairs for its workers. A primary that cannot start is disposed, and its error thrown.
    /// </summary>
    public static async Task<ParityCluster> StartAsync(ClusterOptions options, string urls = "http://127.0.0.1:0", params string[] workerEnvironment)
    {
        await WarmUp.Value;
        var cluster = new ParityCluster(options, urls, workerEnvironment);
        try
        {
            cluster.Primary.Start(ClusterEndpoint.ParseUrls([urls]));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public List<string> EventsOf(int id) => _events.Where(e => e.WorkerId == id).Select(e => e.Name).ToList();

    /// <summary>The one event <paramref name="name"/> of worker <paramref name="id"/>.</summary>
    public ParityEvent Single(int id, string name) => Assert.Single(_events, e => e.WorkerId == id && e.Name == name);

    public int Forks => _events.Count(e => e.Name == "fork");

    public async Task<WorkerHandle> ReadyWorkerAsync(int id)
    {
        await Poll.UntilAsync(() => Primary.Workers.Any(worker => worker.Id == id && worker.State == WorkerState.Ready), Deadline, $"worker {id} ready");
        return Primary.Workers.Single(worker => worker.Id == id);
    }

    public async Task<WorkerExitedEventArgs> ExitOfAsync(int id)
    {
        await Poll.UntilAsync(() => _exits.ContainsKey(id), Deadline, $"exit of worker {id}", () => string.Join(", ", _events));
        return _exits[id];
    }

    /// <summary>
    /// Waits for the end of a worker that was connected and checks what Node checks of every end: one 'disconnect' and
    /// one 'exit' (in either order: two threads report them), and its pid gone.
    /// </summary>
    public async Task<WorkerExitedEventArgs> EndOfAsync(WorkerHandle worker)
    {
        var exit = await ExitOfAsync(worker.Id);
        await Poll.UntilAsync(() => EventsOf(worker.Id).Contains("disconnect"), Deadline, $"disconnect of worker {worker.Id}");
        Assert.Equal(["disconnect", "exit"], EventsOf(worker.Id).Where(name => name is "disconnect" or "exit").Order());
        Assert.False(ProcessTree.IsAlive(worker.ProcessId));
        return exit;
    }

    /// <summary>Stops the primary, kills any worker left (by pid), then checks the cleanup invariant.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await Primary.DisposeAsync();
        foreach (var pid in _pids.Values.Where(ProcessTree.IsAlive))
        {
            ProcessTree.Kill(pid);
        }

        if (_descriptorsBefore is null)
        {
            return;
        }

        // Workers are reaped by the primary's threads and its sockets close as they end: wait for state, not time.
        var workers = _pids.Values.ToList();
        var after = Descriptors();
        await Poll.UntilAsync(
            () => (after = Descriptors()).Count <= _descriptorsBefore.Count && !workers.Any(ProcessTree.Children(Environment.ProcessId).Contains),
            TimeSpan.FromSeconds(10),
            "the primary's descriptors back to their count before the scenario and no worker left",
            () => $"before {_descriptorsBefore.Count}, now {after.Count}; new: {string.Join(", ", after.Except(_descriptorsBefore))}; "
                + $"workers left: {string.Join(", ", workers.Where(ProcessTree.Children(Environment.ProcessId).Contains))}; "
                + $"held by: {string.Join("; ", after.Except(_descriptorsBefore).Select(HoldersOf))}");
    }

    /// <summary>Every process with a descriptor on the same file (a pipe's other end), with its command line.</summary>
    private static string HoldersOf(string descriptor)
    {
        var target = descriptor[(descriptor.IndexOf("-> ", StringComparison.Ordinal) + 3)..];
        var holders = new List<string>();
        foreach (var process in Directory.GetDirectories("/proc").Where(path => int.TryParse(Path.GetFileName(path), out _)))
        {
            try
            {
                if (Directory.GetFiles(Path.Combine(process, "fd")).Any(fd => new FileInfo(fd).LinkTarget == target))
                {
                    holders.Add($"{Path.GetFileName(process)} ({File.ReadAllText(Path.Combine(process, "cmdline")).Replace('\0', ' ').Trim()})");
                }
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                // Gone, or not ours to read.
            }
        }

        return $"{target}: {string.Join(", ", holders)}";
    }

    /// <summary>
    /// This process's descriptors but its assemblies, which the runtime maps as the tests first use them, and copies of
    /// its own standard output and error: .NET's Console dups those when a writer is first made (again after a
    /// Console.SetOut elsewhere), which a full run showed as two pipes to the test runner appearing mid-scenario.
    /// </summary>
    private static List<string> Descriptors()
    {
        var console = new[] { "1", "2" }.Select(fd => new FileInfo($"/proc/self/fd/{fd}").LinkTarget).ToHashSet();
        return ProcessTree.Descriptors(Environment.ProcessId)
            .Where(fd => !fd.EndsWith(".dll", StringComparison.Ordinal) && !console.Contains(fd[(fd.IndexOf("-> ", StringComparison.Ordinal) + 3)..]))
            .ToList();
    }

    private void Record(string name, WorkerHandle worker)
    {
        _pids[worker.Id] = worker.ProcessId;
        _events.Enqueue(new ParityEvent(worker.Id, name, worker.IsDead, worker.IsConnected, worker.StopRequested, Stopwatch.GetTimestamp()));
    }
}

/// <summary>One event of one worker, with its Node-style flags as they were when it was raised.</summary>
public sealed record ParityEvent(int WorkerId, string Name, bool IsDead, bool IsConnected, bool StopRequested, long At)
{
    public override string ToString() => $"{WorkerId} {Name}";
}
