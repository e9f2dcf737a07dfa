using ProcessCluster.Distribution;
using ProcessCluster.Interop;

namespace ProcessCluster.Primary;

/// <summary>
/// The exec both hand-overs end in (an in-place upgrade, <see cref="InPlaceUpgrade"/>; the in-app primary becoming a
/// lean one, <see cref="LeanHandover"/>): this process re-executed in place with the listening sockets, the workers'
/// channels and output pipes inherited and their table in the environment (<see cref="UpgradeHandover"/>).
/// </summary>
internal static class HandoverExec
{
    /// <summary>The console logger writes from a queue of its own: its last lines are given this long before the exec.</summary>
    private static readonly TimeSpan LogFlush = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Executes <paramref name="program"/> in its working directory (by name: current -> releases/v2 now; none: this
    /// one) with <paramref name="environment"/>, a previous hand-over's variables replaced by this one's. SIGUSR2 is
    /// ignored across the exec: until the new program handles it, its default action would kill the process (the
    /// handler goes with the exec), so one sent while the new program starts is dropped by the kernel instead; every
    /// primary catches it again before it registers its own (ClusterSignals.CatchIgnored). Returns only
    /// when the exec failed, with why; everything is then as it was.
    /// </summary>
    public static string Run(WorkerCommand program, IEnumerable<string> environment, IReadOnlyList<BoundEndpoint> endpoints, IReadOnlyList<HandedWorker> workers)
    {
        var sockets = endpoints.Select(HandedSocket.Of).ToList();
        var inherited = sockets.Select(socket => socket.Fd)
            .Concat(workers.SelectMany(worker => (int[])[worker.Channel, worker.Stdout, worker.Stderr]))
            .Where(fd => fd >= 0)
            .ToList();
        var handed = environment
            .Where(variable => !variable.StartsWith("PROCESSCLUSTER_UPGRADE_", StringComparison.Ordinal))
            .Concat(UpgradeHandover.Variables(sockets, workers).Select(variable => $"{variable.Key}={variable.Value}"))
            .ToList();

        inherited.ForEach(fd => ProcessInterop.SetInherited(fd, true));
        Thread.Sleep(LogFlush);
        var previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = program.WorkingDirectory ?? previous;

        var upgradeSignal = ProcessInterop.IgnoreSignal(SignalNames.SIGUSR2);
        var failure = ProcessInterop.Exec(program.Path, program.Arguments, handed);

        // Still here: execve failed, and this program goes on with everything it had.
        ProcessInterop.RestoreSignal(SignalNames.SIGUSR2, upgradeSignal);
        Environment.CurrentDirectory = previous;
        inherited.ForEach(fd => ProcessInterop.SetInherited(fd, false));
        return failure;
    }
}
