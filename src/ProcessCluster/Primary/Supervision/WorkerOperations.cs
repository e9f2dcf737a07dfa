using System.ComponentModel;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;
using ProcessCluster.Policies;
using ProcessCluster.Worker;

namespace ProcessCluster.Primary;

/// <summary>
/// What the supervisor does to a worker process: start one, drain one, kill one. Each move goes through the worker
/// table's state machine, so a late or repeated order cannot undo a later state.
/// </summary>
internal sealed class WorkerOperations(
    SupervisorContext context,
    IWorkerProcesses processes,
    WorkerCommand command,
    Func<string> channelName,
    IWorkerOwner owner,
    Action<SupervisorEvent> post)
{
    /// <summary>Beyond the drain timeout, time for a worker whose server gave up waiting to exit by itself.</summary>
    public static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(2);

    private int _lastWorkerId;

    /// <summary>A new worker, not spawned yet. Any thread may call this; the loop spawns it (<see cref="Spawn"/>).</summary>
    public WorkerHandle Create(int restarts = 0) => new(
        Interlocked.Increment(ref _lastWorkerId),
        Channels.ChannelListener.NewSecret(),
        context.Now,
        restarts,
        WorkerHealthPolicy.RequestLimit(context.Options, Random.Shared.NextDouble()),
        owner);

    /// <summary>Spawns a new worker; null (and the reason logged) when the process could not start.</summary>
    public WorkerHandle? TryFork(int restarts = 0)
    {
        var worker = Create(restarts);
        return Spawn(worker, null) ? worker : null;
    }

    /// <summary>Starts the worker's process and enters it in the table; false (it is dead) when the process could not start.</summary>
    public bool Spawn(WorkerHandle worker, IReadOnlyDictionary<string, string>? environment)
    {
        var variables = (environment ?? new Dictionary<string, string>())
            .Concat(new WorkerEnvironment(worker.Id, channelName(), worker.Secret, Environment.ProcessId).ToVariables());
        try
        {
            // Resolved before the fork: a symlink swapped after it names the next release, not this worker's.
            var release = PathInterop.RealPath(command.WorkingDirectory ?? Environment.CurrentDirectory);
            var code = CodeStamp.Of(command, release);
            var pid = processes.Spawn(command, worker.Id, variables, status => post(new WorkerExited(worker, status)));
            worker.View = worker.View with { ProcessId = pid, Release = release, Code = code };
        }
        catch (Exception error) when (error is Win32Exception or InvalidOperationException or IOException)
        {
            SupervisorLog.ForkFailed(context.Logger, error.Message);
            WorkerTable.Move(worker, WorkerTrigger.Exited);
            return false;
        }

        context.Workers.Add(worker);
        context.Observer.Forked(worker);
        return true;
    }

    /// <summary>
    /// Enters a worker the previous program of this process handed over (an in-place upgrade), serving (or spare) as it
    /// was, on its channel; its exit is watched from now on. Ids go on from the highest adopted.
    /// </summary>
    public WorkerHandle Adopt(HandedWorker handed, IpcChannel channel)
    {
        InterlockedMax(ref _lastWorkerId, handed.Id);
        var worker = new WorkerHandle(handed.Id, Channels.ChannelListener.NewSecret(), handed.ForkedAt, handed.Restarts, handed.RequestLimit, owner);
        worker.View = worker.View with
        {
            ProcessId = handed.Pid,
            Release = handed.Release,
            Code = handed.Code,
            Build = (ChannelProtocol.Version, handed.Library),
            ListeningAddresses = handed.Addresses,
            LastHeartbeatAt = context.Now,
        };
        WorkerTable.Move(worker, WorkerTrigger.Connected);
        WorkerTable.Move(worker, handed.Spare ? WorkerTrigger.ListeningAsSpare : WorkerTrigger.Listening);
        WorkerTable.Update(worker, view => view with { ReadyAt = handed.ReadyAt ?? context.Now });
        worker.Channel = channel;
        context.Workers.Add(worker);
        processes.Adopt(handed.Pid, handed.Id, handed.Stdout, handed.Stderr, status => post(new WorkerExited(worker, status)));
        if (!handed.Spare)
        {
            context.Distribution.AddWorker(worker.Id, channel);
        }

        return worker;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    /// <summary>Takes a worker out of dispatch and asks it to finish its requests and exit, with a deadline.</summary>
    public void Drain(WorkerHandle worker, StopReason reason)
    {
        if (worker.IsDead)
        {
            return;
        }

        // A worker already draining by itself keeps draining; the reason says whether it will be replaced.
        WorkerTable.Update(worker, view => view with { StopReason = view.StopReason ?? reason });
        if (!WorkerTable.Move(worker, WorkerTrigger.Drain))
        {
            return;
        }

        Retire(worker);
        if (!TrySend(worker, FrameType.Disconnect, []))
        {
            // Not connected yet, or not reading its channel: its runtime turns SIGTERM into the same graceful stop.
            Kill(worker, SignalNames.SIGTERM);
        }

        context.PostAfter(new DrainDeadline(worker), context.Options.DrainTimeout + ExitGrace);
    }

    /// <summary>
    /// Kills a worker that cannot be drained (hung, never ready); what it had not taken goes to others. A worker
    /// already leaving on purpose keeps that reason: its successor is on its way, so it must not be restarted too.
    /// </summary>
    public void Terminate(WorkerHandle worker, StopReason reason)
    {
        WorkerTable.Update(worker, view => view with
        {
            Terminated = true,
            StopReason = view.StopReason?.IsPlanned() == true ? view.StopReason : reason,
        });
        WorkerTable.Move(worker, WorkerTrigger.Drain);
        Retire(worker);
        Kill(worker, SignalNames.SIGKILL);
    }

    /// <summary>Out of dispatch; its count of connections is kept for status.</summary>
    public void Retire(WorkerHandle worker)
    {
        WorkerTable.Update(worker, view => view with { DispatchedWhenRetired = Math.Max(view.DispatchedWhenRetired, context.Distribution.Dispatched(worker.Id)) });
        context.Distribution.Retire(worker.Id);
    }

    /// <summary>
    /// Sends the worker a frame of the supervisor's own without waiting: the loop never blocks on a worker that is not
    /// reading (nor, through the channel's lock, does the dispatcher). False when it did not go.
    /// </summary>
    public static bool TrySend(WorkerHandle worker, FrameType type, ReadOnlySpan<byte> payload)
    {
        try
        {
            return worker.Channel is { } channel && channel.TrySend(type, payload);
        }
        catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
        {
            return false;
        }
    }

    public void Kill(WorkerHandle worker, int signal)
    {
        if (worker.ProcessId > 0 && !worker.IsDead)
        {
            processes.Signal(worker.ProcessId, signal);
        }
    }
}
