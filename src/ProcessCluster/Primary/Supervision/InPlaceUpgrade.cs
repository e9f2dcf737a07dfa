using ProcessCluster.Distribution;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary;

/// <summary>
/// The primary re-executing itself in place (HAProxy's way: same pid, so systemd, the control socket's path and the
/// workers' parent stay the same). Only a calm cluster is upgraded (every worker ready or spare, no reload under way).
/// In order: stop accepting (the listening sockets stay open, new connections wait in the kernel's queue), hand out
/// what was accepted, ask every worker to pause (it answers Paused as its last frame, and stops dying with this
/// process's threads), then execve with the sockets, the channels and the output pipes inherited and the table in the
/// environment (<see cref="UpgradeHandover"/>). Between frames, with no descriptor in flight: nothing is torn. When the
/// workers do not pause in time or execve fails, everything resumes as it was and the caller is told why.
/// </summary>
internal sealed class InPlaceUpgrade(
    SupervisorContext context,
    Replacements replacements,
    IWorkerProcesses processes,
    Func<IReadOnlyList<BoundEndpoint>> endpoints,
    Action<WorkerHandle, IpcChannel> resume)
{
    private static readonly TimeSpan StepInterval = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan PauseTimeout = TimeSpan.FromSeconds(5);

    private Run? _run;

    public void Begin(UpgradeRequested request)
    {
        if (Refusal() is { } refusal)
        {
            request.Done.TrySetResult(new UpgradeResult(UpgradeOutcome.Refused, refusal));
            return;
        }

        SupervisorLog.UpgradeStarting(context.Logger, context.Workers.Count, string.Join(' ', request.Program.Arguments), Environment.ProcessId);
        context.Distribution.PauseAccepting();
        _run = new Run(request, context.Now + PauseTimeout, context.Workers.All.ToList());
        Step();
    }

    /// <summary>Goes on as far as it can: hands out what is held, asks the workers to pause, execs once all have.</summary>
    public void Step()
    {
        if (_run is not { } run)
        {
            return;
        }

        if (context.Now > run.Deadline)
        {
            CallOff(run.PauseSent
                ? $"the workers did not all pause within {PauseTimeout.TotalSeconds:0} s"
                : $"the connections the primary held did not all go to workers within {PauseTimeout.TotalSeconds:0} s");
            return;
        }

        if (!run.PauseSent)
        {
            if (context.Distribution.HandOutHeld() > 0)
            {
                context.PostAfter(new UpgradeStep(), StepInterval);
                return;
            }

            foreach (var worker in run.Workers)
            {
                if (!WorkerOperations.TrySend(worker, FrameType.Pause, []))
                {
                    CallOff($"worker {worker.Id} could not be asked to pause");
                    return;
                }

                run.Asked.Add(worker);
            }

            run.PauseSent = true;
        }

        if (run.Paused.Count == run.Workers.Count)
        {
            Exec(run);
        }
        else
        {
            context.PostAfter(new UpgradeStep(), StepInterval);
        }
    }

    /// <summary>A worker sends nothing more; once all have paused, the exec. One that paused after a call-off resumes at once.</summary>
    public void Paused(WorkerHandle worker)
    {
        if (_run is not { } run || !run.Asked.Contains(worker))
        {
            if (worker.Channel is { } channel)
            {
                resume(worker, channel);
            }

            return;
        }

        run.Paused.Add(worker);
        Step();
    }

    private string? Refusal() =>
        _run is not null ? "an upgrade is already under way"
        : context.Options.Scheduling == SchedulingMode.ReusePort ? "Cluster:Scheduling=ReusePort has a listening socket per worker, which the new program would not know; reload (SIGHUP) instead"
        : context.Stopping ? "the cluster is stopping"
        : !replacements.Idle ? "a reload or a replacement is under way; try again once it has finished"
        : context.Workers.All.FirstOrDefault(worker => worker.State is not (WorkerState.Ready or WorkerState.Spare) || worker.Channel is null) is { } busy
            ? $"worker {busy.Id} is {busy.State.ToString().ToLowerInvariant()}; try again once every worker is ready"
        : context.Workers.Count == 0 ? "no worker is running"
        : null;

    private void Exec(Run run)
    {
        // Whatever changed while the workers paused (one exited, a restart began) is not in the table handed over.
        if (context.Workers.Count != run.Workers.Count || run.Workers.Any(worker => worker.IsDead || worker.Channel is null) || !replacements.Idle || context.Stopping)
        {
            CallOff("the cluster changed while its workers paused");
            return;
        }

        var workers = run.Workers.Select(worker =>
        {
            var (stdout, stderr) = processes.OutputOf(worker.ProcessId);
            return new HandedWorker(
                worker.Id, worker.ProcessId, worker.Channel!.Fd, stdout, stderr, worker.State == WorkerState.Spare, worker.ForkedAt, worker.ReadyAt,
                worker.Restarts, worker.RequestLimit, worker.Release, worker.View.Code, worker.View.Build?.Library, worker.ListeningAddresses);
        }).ToList();
        CallOff(HandoverExec.Run(run.Request.Program, run.Request.Environment, endpoints(), workers));
    }

    /// <summary>Everything back as it was: paused workers resume, accepting resumes, the caller hears why.</summary>
    private void CallOff(string reason)
    {
        var run = _run!;
        _run = null;
        foreach (var worker in run.Paused.Where(worker => !worker.IsDead))
        {
            if (worker.Channel is { } channel)
            {
                resume(worker, channel);
            }
        }

        context.Distribution.ResumeAccepting();
        SupervisorLog.UpgradeCalledOff(context.Logger, reason);
        run.Request.Done.TrySetResult(new UpgradeResult(UpgradeOutcome.CalledOff, reason));
    }

    private sealed class Run(UpgradeRequested request, DateTimeOffset deadline, List<WorkerHandle> workers)
    {
        public UpgradeRequested Request { get; } = request;

        public DateTimeOffset Deadline { get; } = deadline;

        public List<WorkerHandle> Workers { get; } = workers;

        public HashSet<WorkerHandle> Asked { get; } = [];

        public HashSet<WorkerHandle> Paused { get; } = [];

        public bool PauseSent { get; set; }
    }
}
