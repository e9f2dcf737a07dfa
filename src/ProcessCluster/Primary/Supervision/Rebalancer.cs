using System.ComponentModel;
using ProcessCluster.Ipc;
using ProcessCluster.Policies;

namespace ProcessCluster.Primary;

/// <summary>
/// RoundRobin: asks workers holding clearly more than their share of connections to shed the surplus, so that
/// keep-alive clients reach new workers too. One request at a time per worker, a few reports apart, so a worker's
/// next report shows the effect before it is asked again.
/// </summary>
internal sealed class Rebalancer(SupervisorContext context)
{
    public void Rebalance()
    {
        if (!context.Distribution.CanShed || context.Stopping)
        {
            return;
        }

        var now = context.Now;
        var interval = context.LoadReportInterval;
        var ready = context.Workers.In(WorkerState.Ready).Where(worker => worker.LastReportAt > worker.ReadyAt).ToList();
        var shed = RebalancePolicy.Shed(ready.Select(worker => worker.OpenConnections).ToList());
        SupervisorLog.ConnectionsPerWorker(context.Logger, string.Join(", ", ready.Select(worker => $"{worker.Id}: {worker.OpenConnections}")));
        for (var i = 0; i < ready.Count; i++)
        {
            var worker = ready[i];
            if (shed[i] == 0 || now - worker.View.ShedAskedAt < 3 * interval || worker.Channel is not { } channel)
            {
                continue;
            }

            SupervisorLog.Shedding(context.Logger, worker, shed[i], worker.OpenConnections, ready.Count);
            WorkerTable.Update(worker, view => view with { ShedAskedAt = now });
            context.Distribution.Shedding(worker.Id, shed[i], 2 * interval);
            try
            {
                channel.Send(FrameType.Shed, FrameFormat.WriteShed(shed[i]));
            }
            catch (Exception error) when (error is Win32Exception or ObjectDisposedException)
            {
                // Its channel is closing; the worker is on its way out anyway.
            }
        }
    }
}
