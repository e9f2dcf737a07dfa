using ProcessCluster.Ipc;
using ProcessCluster.Primary.Channels;

namespace ProcessCluster.Primary;

/// <summary>
/// A worker coming up: its channel claimed (only by the starting worker with the peer's pid, proven by its id and
/// secret), online once welcomed, then ready — serving, or kept as a spare — when its app listens.
/// </summary>
internal sealed class Admissions(SupervisorContext context, Replacements replacements, PoolSizer pool, WorkerOperations operations)
{
    private bool _announcedServiceReady;

    public void Claim(ChannelOpened opened)
    {
        var worker = context.Workers.FindStarting(opened.Pid);
        var refusal = worker is null ? "not a worker this primary started"
            : !ChannelListener.Proves(opened.Hello, worker) ? "wrong worker id or secret"
            : null;
        if (refusal is not null)
        {
            context.Observer.ChannelRefused(opened.Pid, refusal);
            opened.Claim.TrySetResult(null);
            return;
        }

        WorkerTable.Update(worker!, view => view with { Build = (opened.Hello.Protocol, opened.Hello.Library) });
        if (!ChannelProtocol.Speaks(opened.Hello.Protocol))
        {
            // Our own worker, of a build this primary cannot talk to: a reload of it fails here, with the reason.
            SupervisorLog.IncompatibleWorker(context.Logger, worker!, ChannelProtocol.Mismatch(opened.Hello.Protocol, opened.Hello.Library, ChannelProtocol.Version, ChannelProtocol.Library));
            opened.Claim.TrySetResult(null);
            operations.Terminate(worker!, StopReason.IncompatibleProtocol);
            return;
        }

        // Claimed now, so a second channel from the same process is refused; online once it has its welcome. Unless
        // the channel's thread gave up waiting for this answer: then the worker stays unclaimed.
        if (opened.Claim.TrySetResult(worker))
        {
            worker!.Channel = opened.Channel;
        }
    }

    public void Connected(WorkerHandle worker)
    {
        if (WorkerTable.Move(worker, WorkerTrigger.Connected))
        {
            WorkerTable.Update(worker, view => view with { LastHeartbeatAt = context.Now });
            context.Observer.Online(worker);
        }
    }

    public void Listening(WorkerHandle worker, IReadOnlyList<string> addresses, IReadOnlyList<string> urls)
    {
        var spare = !replacements.IsSuccessor(worker.Id) && pool.KeepsAsSpare();
        if (worker.Channel is not { } channel || !WorkerTable.Move(worker, spare ? WorkerTrigger.ListeningAsSpare : WorkerTrigger.Listening))
        {
            return;
        }

        WorkerTable.Update(worker, view => view with { ReadyAt = context.Now, ListeningAddresses = addresses });
        context.EverReady = true;
        if (!spare)
        {
            context.Distribution.AddWorker(worker.Id, channel);
        }

        context.Observer.Ready(worker, spare ? ReadyRole.Spare : ReadyRole.Serving);
        replacements.WorkerReady(worker);
        AnnounceServiceReady(urls);
    }

    /// <summary>The service is up once the initial workers all serve, not merely started (or, after an in-place upgrade, once adopted).</summary>
    public void AnnounceServiceReady(IReadOnlyList<string> urls)
    {
        var ready = context.Workers.CountIn(WorkerState.Ready);
        if (!_announcedServiceReady && ready >= context.Options.InitialWorkers)
        {
            _announcedServiceReady = true;
            context.Observer.ServiceReady(ready, urls);
        }
    }
}
