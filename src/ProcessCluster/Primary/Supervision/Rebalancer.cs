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
            if (shed[i] == 0 || now - worker.View.ShedAskedAt < 3 * interval)
            {
                continue;
            }

            // Passed over first, so that no client it lets go reconnects to it. One not reading its channel now is not
            // asked (and not passed over); the next probe asks again.
            context.Distribution.Shedding(worker.Id, shed[i], 2 * interval);
            if (!WorkerOperations.TrySend(worker, FrameType.Shed, FrameFormat.WriteShed(shed[i])))
            {
                context.Distribution.Shedding(worker.Id, 0, TimeSpan.Zero);
                continue;
            }

            SupervisorLog.Shedding(context.Logger, worker, shed[i], worker.OpenConnections, ready.Count);
            WorkerTable.Update(worker, view => view with { ShedAskedAt = now });
        }
    }
}
