using System.ComponentModel;
using System.Net.Sockets;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;

namespace ProcessCluster.Primary;

/// <summary>
/// The new program of a primary that re-executed itself in place: it takes over the running workers it was handed
/// (their channels, output pipes and exits) without restarting them, and rolls them with a normal reload when the code
/// on disk is not what they run. It never leaves a worker unsupervised: a worker it cannot take over, or every one
/// when the table cannot be read, is killed by pid, and the pool sizer starts fresh ones on the sockets kept.
/// </summary>
internal sealed class Adoption(
    SupervisorContext context,
    WorkerOperations operations,
    IWorkerProcesses processes,
    Replacements replacements,
    Func<int> desiredWorkers,
    WorkerCommand command,
    Action<WorkerHandle, IpcChannel> resume)
{
    public void Adopt(UpgradeHandover.Received handover)
    {
        if (handover.Problem is { } problem)
        {
            SupervisorLog.HandoverUnreadable(context.Logger, problem);
        }

        var adopted = new List<WorkerHandle>();
        foreach (var handed in handover.Workers ?? [])
        {
            if (TryAdopt(handed) is { } worker)
            {
                adopted.Add(worker);
            }
        }

        var strays = processes.KillStrays(adopted.Select(worker => worker.ProcessId).ToHashSet());
        if (strays.Count > 0)
        {
            SupervisorLog.KilledStrays(context.Logger, strays.Count, string.Join(", ", strays));
        }

        SupervisorLog.Adopted(context.Logger, Environment.ProcessId, adopted.Count, string.Join(", ", adopted.Select(worker => $"{worker.Id} pid {worker.ProcessId}")));
        adopted.ForEach(worker => resume(worker, worker.Channel!));

        var release = PathInterop.RealPath(command.WorkingDirectory ?? Environment.CurrentDirectory);
        var code = CodeStamp.Of(command, release);
        if (adopted.Any(worker => worker.View.Code != code))
        {
            SupervisorLog.AdoptedCodeChanged(context.Logger);
            replacements.StartReload(new TaskCompletionSource<ReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously), desiredWorkers());
        }
    }

    /// <summary>The worker on its inherited channel; null (and it is killed by the stray sweep) when its descriptors are not there.</summary>
    private WorkerHandle? TryAdopt(HandedWorker handed)
    {
        try
        {
            ProcessInterop.SetInherited(handed.Channel, false);
            foreach (var pipe in (int[])[handed.Stdout, handed.Stderr])
            {
                if (pipe >= 0)
                {
                    ProcessInterop.SetInherited(pipe, false);
                }
            }

            var socket = new Socket(new SafeSocketHandle(handed.Channel, ownsHandle: true));
            return operations.Adopt(handed, new IpcChannel(socket, context.Options.MaxMessageBytes));
        }
        catch (Exception error) when (error is Win32Exception or SocketException or IOException or ArgumentException)
        {
            SupervisorLog.HandoverUnreadable(context.Logger, $"worker {handed.Id} (pid {handed.Pid}) cannot be taken over: {error.Message}");
            return null;
        }
    }
}
