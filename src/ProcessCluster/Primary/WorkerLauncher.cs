using System.Collections;
using System.Collections.Concurrent;
using ProcessCluster.Interop;

namespace ProcessCluster.Primary;

/// <summary>
/// Spawns workers, always from one long-lived thread: Linux sends a child its parent-death signal when the
/// *thread* that created it exits, so spawning from a pool thread would kill healthy workers at random.
/// Each worker gets a reaper thread that blocks in waitid and reports how the process ended.
/// </summary>
internal sealed class WorkerLauncher : IDisposable
{
    private readonly BlockingCollection<SpawnRequest> _requests = new();
    private readonly Thread _thread;

    public WorkerLauncher()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "cluster-launcher" };
        _thread.Start();
    }

    /// <summary>
    /// Starts <paramref name="command"/> with this process's environment plus <paramref name="extraEnvironment"/>;
    /// <paramref name="onStarted"/> runs with the pid before <paramref name="onExit"/> can, which runs on a reaper
    /// thread when the process ends. Returns the pid.
    /// </summary>
    public int Spawn(
        WorkerCommand command,
        IEnumerable<KeyValuePair<string, string>> extraEnvironment,
        Action<int> onStarted,
        Action<int, ExitStatus> onExit)
    {
        var environment = BuildEnvironment(extraEnvironment);
        var request = new SpawnRequest(command, environment, onStarted, onExit, new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously));
        _requests.Add(request);
        return request.Result.Task.GetAwaiter().GetResult();
    }

    private void Run()
    {
        foreach (var request in _requests.GetConsumingEnumerable())
        {
            try
            {
                var pid = ProcessInterop.Spawn(request.Command.Path, request.Command.Arguments, request.Environment);
                request.OnStarted(pid);
                var reaper = new Thread(() => request.OnExit(pid, ProcessInterop.WaitForExit(pid)))
                {
                    IsBackground = true,
                    Name = $"cluster-reaper-{pid}",
                };
                reaper.Start();
                request.Result.SetResult(pid);
            }
            catch (Exception error)
            {
                request.Result.SetException(error);
            }
        }
    }

    private static List<string> BuildEnvironment(IEnumerable<KeyValuePair<string, string>> extra)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            variables[(string)entry.Key] = (string?)entry.Value ?? string.Empty;
        }

        foreach (var (key, value) in extra)
        {
            variables[key] = value;
        }

        return variables.Select(pair => $"{pair.Key}={pair.Value}").ToList();
    }

    public void Dispose() => _requests.CompleteAdding();

    private sealed record SpawnRequest(
        WorkerCommand Command,
        List<string> Environment,
        Action<int> OnStarted,
        Action<int, ExitStatus> OnExit,
        TaskCompletionSource<int> Result);
}
