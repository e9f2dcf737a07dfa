using ProcessCluster.Interop;

namespace ProcessCluster;

/// <summary>How a child process ended: an exit code, or the signal that killed it.</summary>
public readonly record struct ExitStatus(int? ExitCode, int? Signal)
{
    public static ExitStatus Exited(int code) => new(code, null);

    public static ExitStatus Killed(int signal) => new(null, signal);

    public bool IsClean => ExitCode == 0;

    /// <summary>"killed by signal SIGKILL", "exited with error code 42" or "exited cleanly".</summary>
    public string Describe() => Signal is { } signal
        ? $"killed by signal {SignalNames.Name(signal)}"
        : ExitCode == 0 ? "exited cleanly" : $"exited with error code {ExitCode}";

    public override string ToString() => Describe();
}
