using System.Collections;
using System.Collections.Concurrent;
using Microsoft.Win32.SafeHandles;
using ProcessCluster.Interop;

namespace ProcessCluster.Primary;

/// <summary>
/// Spawns workers, always from one long-lived thread: Linux sends a child its parent-death signal when the
/// *thread* that created it exits, so spawning from a pool thread would kill healthy workers at random.
/// Each worker gets a reaper thread that blocks in waitid and reports how the process ended, and its output relayed
/// (<see cref="WorkerOutput"/>).
/// </summary>
internal sealed class WorkerLauncher : IWorkerProcesses, IDisposable
{
    /// <summary>
    /// How long an exit report waits for the rest of the worker's output. Normally it is already in the pipe and takes
    /// microseconds; only a process the worker started, still holding the pipe, makes this wait run out.
    /// </summary>
    private static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(1);

    private readonly BlockingCollection<SpawnRequest> _requests = new();
    private readonly Thread _thread;
    private readonly LogFormat _logFormat;

    // Children not yet reaped. A pid is signalled only under this lock while in the set, and leaves the set before it
    // is reaped, so a signal never reaches a process that took a reaped worker's pid.
    private readonly HashSet<int> _unreaped = [];
    private readonly Dictionary<int, (int Stdout, int Stderr)> _pipes = [];
    private readonly Func<int, int, bool> _kill;

    /// <param name="kill">kill(2); tests observe when it is called.</param>
    public WorkerLauncher(LogFormat logFormat, Func<int, int, bool>? kill = null)
    {
        _logFormat = logFormat;
        _kill = kill ?? ProcessInterop.Signal;
        _thread = new Thread(Run) { IsBackground = true, Name = "cluster-launcher" };
        _thread.Start();
    }

    public int Spawn(WorkerCommand command, int workerId, IEnumerable<KeyValuePair<string, string>> environment, Action<ExitStatus> onExit)
    {
        var request = new SpawnRequest(command, workerId, BuildEnvironment(environment), onExit, new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously));
        _requests.Add(request);
        return request.Result.Task.GetAwaiter().GetResult();
    }

    public void Signal(int pid, int signal)
    {
        lock (_unreaped)
        {
            if (_unreaped.Contains(pid))
            {
                _kill(pid, signal);
            }
        }
    }

    /// <summary>
    /// Takes on a worker a previous program of this process started (an in-place upgrade): still this process's child,
    /// so it is reaped and its output relayed as if started here. Takes ownership of the pipe descriptors (-1: none).
    /// </summary>
    public void Adopt(int pid, int workerId, int stdout, int stderr, Action<ExitStatus> onExit) =>
        Watch(pid, workerId, new SafeFileHandle(stdout, ownsHandle: true), new SafeFileHandle(stderr, ownsHandle: true), onExit);

    /// <summary>The read ends of a worker's stdout and stderr pipes, to hand across an exec; (-1, -1) when unknown.</summary>
    public (int Stdout, int Stderr) OutputOf(int pid)
    {
        lock (_unreaped)
        {
            return _pipes.GetValueOrDefault(pid, (-1, -1));
        }
    }

    /// <summary>
    /// Kills every child of this process that is a worker of this primary (its environment says so) and was not
    /// adopted: one the previous program started while it was upgrading, or every one when its table was unreadable.
    /// Each is reaped. Returns their pids.
    /// </summary>
    public IReadOnlyList<int> KillStrays(IReadOnlySet<int> adopted)
    {
        var ours = $"{Worker.WorkerEnvironment.PrimaryPidVariable}={Environment.ProcessId}";
        var strays = ProcessInterop.Children()
            .Where(pid => !adopted.Contains(pid) && ProcFs.EnvironmentOf(pid).Contains(ours))
            .ToList();
        foreach (var pid in strays)
        {
            lock (_unreaped)
            {
                _unreaped.Add(pid);
                _kill(pid, SignalNames.SIGKILL);
            }

            StartReaper(pid, () => { });
        }

        return strays;
    }

    private void Run()
    {
        foreach (var request in _requests.GetConsumingEnumerable())
        {
            try
            {
                var (pid, stdout, stderr) = ProcessInterop.Spawn(request.Command.Path, request.Command.Arguments, request.Environment, request.Command.WorkingDirectory);
                Watch(pid, request.WorkerId, stdout, stderr, request.OnExit);
                request.Result.SetResult(pid);
            }
            catch (Exception error)
            {
                request.Result.SetException(error);
            }
        }
    }

    private void Watch(int pid, int workerId, SafeFileHandle stdout, SafeFileHandle stderr, Action<ExitStatus> onExit)
    {
        lock (_unreaped)
        {
            _unreaped.Add(pid);
            _pipes[pid] = ((int)stdout.DangerousGetHandle(), (int)stderr.DangerousGetHandle());
        }

        // An adopted worker whose pipes were not handed over has no output to relay.
        var output = stdout.IsInvalid || stderr.IsInvalid ? null : WorkerOutput.Start(workerId, pid, stdout, stderr, _logFormat, Console.Out, Console.Error);
        StartReaper(pid, () =>
        {
            var status = ProcessInterop.WaitForExit(pid);

            // A dying worker's last words (a crash's stack trace) are printed before its exit is logged.
            output?.WaitForEnd(OutputGrace);
            onExit(status);
        });
    }

    /// <summary>A thread that waits for the child to end, takes it out of the signallable set, then reaps it (<paramref name="reap"/>).</summary>
    private void StartReaper(int pid, Action reap)
    {
        var reaper = new Thread(() =>
        {
            ProcessInterop.WaitUntilExited(pid);
            lock (_unreaped)
            {
                _unreaped.Remove(pid);
                _pipes.Remove(pid);
            }

            reap();
        })
        {
            IsBackground = true,
            Name = $"cluster-reaper-{pid}",
        };
        reaper.Start();
    }

    /// <summary>This process's environment as "NAME=value" strings (what this process would pass to a program it executes).</summary>
    public static List<string> CurrentEnvironment() => Variables().Select(pair => $"{pair.Key}={pair.Value}").ToList();

    private static Dictionary<string, string> Variables()
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            variables[(string)entry.Key] = (string?)entry.Value ?? string.Empty;
        }

        return variables;
    }

    private static List<string> BuildEnvironment(IEnumerable<KeyValuePair<string, string>> extra)
    {
        var variables = Variables();

        // systemd hears from the primary alone: a worker that notified too would confuse the service's state.
        variables.Remove(Control.SystemdNotifier.SocketVariable);

        foreach (var (key, value) in extra)
        {
            variables[key] = value;
        }

        // The app as its own primary reads the workers' runtimeconfig.json; under dotnet-cluster run, a variable chooses.
        WorkerRuntimeDefaults.AddTo(variables, property => AppContext.GetData(property) is not null);

        // The admin token is the primary's alone (a worker's environment is readable by more than the primary's code).
        foreach (var name in variables.Keys.Where(ClusterOptions.IsAdminToken).ToList())
        {
            variables.Remove(name);
        }

        return variables.Select(pair => $"{pair.Key}={pair.Value}").ToList();
    }

    public void Dispose() => _requests.CompleteAdding();

    private sealed record SpawnRequest(
        WorkerCommand Command,
        int WorkerId,
        List<string> Environment,
        Action<ExitStatus> OnExit,
        TaskCompletionSource<int> Result);
}
