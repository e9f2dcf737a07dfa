using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;
using ProcessCluster.Primary;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Control;

/// <summary>
/// What each control command does to the cluster. Commands that take time (scale, reload) pass the cluster's events
/// on as progress while they wait, so an operator sees each step.
/// </summary>
internal sealed class ControlCommands(ClusterPrimary primary, ILogger logger)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    public async Task<ControlReply> HandleAsync(ControlRequest request, ChannelWriter<ControlReply> progress, CancellationToken cancellationToken)
    {
        logger.Command(request.ToLine());
        return request.Command.ToLowerInvariant() switch
        {
            "status" => new ControlReply(Ok: true, Status: primary.GetStatus()),
            "scale" => await ScaleAsync(ScaleTarget.Parse(request.Workers), progress, cancellationToken).ConfigureAwait(false),
            "reload" => await ReloadAsync(progress, cancellationToken).ConfigureAwait(false),
            "upgrade" => await UpgradeAsync().ConfigureAwait(false),
            "stop" => Stop(request.Fast),
            "kill" => Kill(request),
            _ => ControlReply.Failure($"unknown command '{request.Command}': expected status, scale, reload, upgrade, stop or kill"),
        };
    }

    private async Task<ControlReply> ScaleAsync(ScaleTarget target, ChannelWriter<ControlReply> progress, CancellationToken cancellationToken)
    {
        var from = primary.DesiredWorkers;
        var to = target.Resolve(from);
        using var _ = Forward(progress);
        if (target.Relative)
        {
            primary.ScaleBy(target.Count);
        }
        else
        {
            primary.ScaleTo(to);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(primary.Options.ReadyTimeout);
        try
        {
            while (!Settled(primary.GetStatus(), to))
            {
                await Task.Delay(PollInterval, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return ControlReply.Failure($"asked for {to} workers, but they were not all ready within {primary.Options.ReadyTimeout.TotalSeconds:0} s");
        }

        return ControlReply.Success($"{to} {(to == 1 ? "worker" : "workers")} ready (was {from}); autoscaling is off until bounds are set again");
    }

    /// <summary>Exactly <paramref name="count"/> workers serve and none is on its way in; leaving ones may still drain.</summary>
    private static bool Settled(ClusterStatus status, int count) =>
        status.Workers.Count(worker => worker.State == WorkerState.Ready) == count
        && !status.Workers.Any(worker => worker.State is WorkerState.Starting or WorkerState.Online);

    private async Task<ControlReply> ReloadAsync(ChannelWriter<ControlReply> progress, CancellationToken cancellationToken)
    {
        using var _ = Forward(progress);
        var result = await primary.ReloadAsync(cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? ControlReply.Success(result.Message) : ControlReply.Failure($"reload failed: {result.Message}");
    }

    /// <summary>
    /// Answers only when the upgrade did not happen ("upgrade failed: check: ..."); when it does, this process execs and
    /// the connection ends without an answer, which is how the client knows (it then waits for the new build to answer).
    /// </summary>
    private async Task<ControlReply> UpgradeAsync()
    {
        var result = await primary.UpgradeAsync().ConfigureAwait(false);
        return ControlReply.Failure($"upgrade failed: {(result.Outcome == UpgradeOutcome.CheckFailed ? "check" : "not done")}: {result.Message}");
    }

    private ControlReply Stop(bool fast)
    {
        primary.RequestShutdown(fast);
        return ControlReply.Success(fast ? $"primary {Environment.ProcessId} is stopping: workers killed" : $"primary {Environment.ProcessId} is stopping: workers drain");
    }

    private ControlReply Kill(ControlRequest request)
    {
        if (request.Worker is not { } id)
        {
            return ControlReply.Failure("kill needs a worker id (\"worker\": 3)");
        }

        var signal = SignalNames.Parse(request.Signal ?? "SIGTERM");
        if (signal is null)
        {
            return ControlReply.Failure($"'{request.Signal}' is not a signal name or number");
        }

        var workers = primary.Workers;
        if (workers.FirstOrDefault(worker => worker.Id == id) is not { } target)
        {
            return ControlReply.Failure($"no worker {id}; the workers are {string.Join(", ", workers.Select(worker => worker.Id))}");
        }

        target.Kill(signal.Value);
        return ControlReply.Success($"sent {SignalNames.Name(signal.Value)} to worker {id} (pid {target.ProcessId})");
    }

    /// <summary>Passes every cluster event on as a progress line until disposed.</summary>
    private Subscription Forward(ChannelWriter<ControlReply> progress) =>
        new(primary.EventLog, @event => progress.TryWrite(ControlReply.Progress(@event)));

    private sealed class Subscription : IDisposable
    {
        private readonly ClusterEventLog _log;
        private readonly Action<ClusterEvent> _handler;

        public Subscription(ClusterEventLog log, Action<ClusterEvent> handler)
        {
            _log = log;
            _handler = handler;
            _log.Appended += _handler;
        }

        public void Dispose() => _log.Appended -= _handler;
    }
}
