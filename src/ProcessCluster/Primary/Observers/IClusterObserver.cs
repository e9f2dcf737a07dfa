using System.Text.Json;

namespace ProcessCluster.Primary;

/// <summary>How a worker that became ready takes its place.</summary>
internal enum ReadyRole
{
    Serving,
    Spare,
    PromotedFromSpare,
}

/// <summary>
/// The facts the supervisor decides or sees, each announced once, here. The log, the event log, the metrics, the
/// <see cref="ClusterPrimary"/> events and systemd each subscribe to the facts they care about.
/// Calls come from the supervisor loop, one at a time, except <see cref="ChannelRefused"/>.
/// </summary>
internal interface IClusterObserver
{
    void Forked(WorkerHandle worker) { }

    void Online(WorkerHandle worker) { }

    void Ready(WorkerHandle worker, ReadyRole role) { }

    /// <summary>Every initial worker serves: the service is up.</summary>
    void ServiceReady(int ready, IReadOnlyList<string> urls) { }

    void Message(WorkerHandle worker, JsonElement message) { }

    void Disconnected(WorkerHandle worker) { }

    /// <summary>A worker exited; <paramref name="restartIn"/> when a replacement will start, <paramref name="replaced"/> when one took or takes its place.</summary>
    void Exited(WorkerHandle worker, ExitStatus status, TimeSpan? restartIn, bool replaced) { }

    void Scaled(int from, int to, string why) { }

    void ReloadStarted(int workers, int concurrency) { }

    void ReloadFinished(ReloadResult result) { }

    /// <summary>Workers died in a loop: restarts stop. <paramref name="serving"/>: workers still serving (0 and never ready: the cluster cannot run).</summary>
    void CrashLoop(string reason, bool everReady, int serving) { }

    void Stopping() { }

    /// <summary>The supervisor hit a bug and stops the cluster: the host should exit non-zero.</summary>
    void Halted(string reason) { }

    /// <summary>
    /// A connection to the workers' channel was refused. Any local user can cause this at will, so it is also called
    /// from channel threads, concurrently with the loop's calls: sinks keep it thread-safe and cheap.
    /// </summary>
    void ChannelRefused(int pid, string reason) { }
}

/// <summary>Fans each fact out to every observer; one that throws is logged and does not stop the others.</summary>
internal sealed class ObserverList(IReadOnlyList<IClusterObserver> observers, Action<Exception> onError) : IClusterObserver
{
    public void Forked(WorkerHandle worker) => Each(o => o.Forked(worker));

    public void Online(WorkerHandle worker) => Each(o => o.Online(worker));

    public void Ready(WorkerHandle worker, ReadyRole role) => Each(o => o.Ready(worker, role));

    public void ServiceReady(int ready, IReadOnlyList<string> urls) => Each(o => o.ServiceReady(ready, urls));

    public void Message(WorkerHandle worker, JsonElement message) => Each(o => o.Message(worker, message));

    public void Disconnected(WorkerHandle worker) => Each(o => o.Disconnected(worker));

    public void Exited(WorkerHandle worker, ExitStatus status, TimeSpan? restartIn, bool replaced) => Each(o => o.Exited(worker, status, restartIn, replaced));

    public void Scaled(int from, int to, string why) => Each(o => o.Scaled(from, to, why));

    public void ReloadStarted(int workers, int concurrency) => Each(o => o.ReloadStarted(workers, concurrency));

    public void ReloadFinished(ReloadResult result) => Each(o => o.ReloadFinished(result));

    public void CrashLoop(string reason, bool everReady, int serving) => Each(o => o.CrashLoop(reason, everReady, serving));

    public void Stopping() => Each(o => o.Stopping());

    public void Halted(string reason) => Each(o => o.Halted(reason));

    public void ChannelRefused(int pid, string reason) => Each(o => o.ChannelRefused(pid, reason));

    private void Each(Action<IClusterObserver> announce)
    {
        foreach (var observer in observers)
        {
            try
            {
                announce(observer);
            }
            catch (Exception error)
            {
                onError(error);
            }
        }
    }
}
