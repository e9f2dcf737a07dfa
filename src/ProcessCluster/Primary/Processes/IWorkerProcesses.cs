using ProcessCluster.Interop;

namespace ProcessCluster.Primary;

/// <summary>
/// Starting and signalling worker processes: the OS seam of the supervisor (the real one is <see cref="WorkerLauncher"/>),
/// so the supervisor's decisions are tested without a real process.
/// </summary>
internal interface IWorkerProcesses
{
    /// <summary>
    /// Starts <paramref name="command"/> as worker <paramref name="workerId"/> with this process's environment plus
    /// <paramref name="environment"/>; returns its pid. <paramref name="onExit"/> runs once, later, on another thread.
    /// </summary>
    int Spawn(WorkerCommand command, int workerId, IEnumerable<KeyValuePair<string, string>> environment, Action<ExitStatus> onExit);

    void Signal(int pid, int signal);

    /// <summary>Takes on a running child a previous program of this process started (in-place upgrade); its output pipes' read ends given, -1 for none.</summary>
    void Adopt(int pid, int workerId, int stdout, int stderr, Action<ExitStatus> onExit);

    /// <summary>The read ends of the worker's output pipes, to hand across an exec; -1 when there are none.</summary>
    (int Stdout, int Stderr) OutputOf(int pid);

    /// <summary>Kills and reaps this primary's workers that are children of this process and not in <paramref name="adopted"/>; returns their pids.</summary>
    IReadOnlyList<int> KillStrays(IReadOnlySet<int> adopted);
}

/// <summary>What the supervisor samples of processes and the machine (from /proc on Linux).</summary>
internal interface IProcessProbe
{
    long? ResidentBytes(int pid);

    TimeSpan? CpuTime(int pid);

    long? AvailableMemoryBytes();
}

/// <summary>The probe over /proc.</summary>
internal sealed class ProcFsProbe : IProcessProbe
{
    public long? ResidentBytes(int pid) => ProcFs.ResidentBytes(pid);

    public TimeSpan? CpuTime(int pid) => ProcFs.CpuTime(pid);

    public long? AvailableMemoryBytes() => ProcFs.AvailableMemoryBytes();
}
