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
