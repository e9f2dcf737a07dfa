using ProcessCluster.Control;

namespace ProcessCluster.Primary;

/// <summary>systemd (Type=notify) hears when the service is up and when it begins to stop.</summary>
internal sealed class SystemdObserver(SystemdNotifier systemd) : IClusterObserver
{
    public void ServiceReady(int ready, IReadOnlyList<string> urls) =>
        systemd.Notify("READY=1", $"STATUS={ready} workers ready on {string.Join(", ", urls)}", $"MAINPID={Environment.ProcessId}");

    public void Stopping() => systemd.Notify("STOPPING=1", "STATUS=Draining workers");
}
