using System.Diagnostics;
using ProcessCluster.Control;

namespace ProcessCluster.Primary;

/// <summary>
/// systemd (Type=notify, or Type=notify-reload) hears when the service is up, when a reload begins and ends, and when
/// it begins to stop.
/// </summary>
internal sealed class SystemdObserver(SystemdNotifier systemd) : IClusterObserver
{
    public void ServiceReady(int ready, IReadOnlyList<string> urls) =>
        systemd.Notify("READY=1", $"STATUS={ready} workers ready on {string.Join(", ", urls)}", $"MAINPID={Environment.ProcessId}");

    /// <summary>notify-reload wants RELOADING=1 with the time on CLOCK_MONOTONIC (Stopwatch's clock on Linux).</summary>
    public void ReloadStarted(int workers, int concurrency) =>
        systemd.Notify("RELOADING=1", $"MONOTONIC_USEC={Stopwatch.GetTimestamp() / (Stopwatch.Frequency / 1_000_000)}", $"STATUS=Reloading {workers} workers");

    /// <summary>READY=1 after an aborted reload too: the old workers serve on, and systemd must not wait for more.</summary>
    public void ReloadFinished(ReloadResult result) =>
        systemd.Notify("READY=1", result.Succeeded ? $"STATUS=Reload finished: {result.Message}" : $"STATUS=Reload aborted: {result.Message}");

    public void Stopping() => systemd.Notify("STOPPING=1", "STATUS=Draining workers");
}
