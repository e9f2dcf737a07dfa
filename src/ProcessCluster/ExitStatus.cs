using ProcessCluster.Interop;

namespace ProcessCluster;

/// <summary>How a child process ended: an exit code, or the signal that killed it.</summary>
public readonly record struct ExitStatus(int? ExitCode, int? Signal)
{
    public static ExitStatus Exited(int code) => new(code, null);

    public static ExitStatus Killed(int signal) => new(null, signal);

    /// <summary>A child that ended but was collected by someone else, so neither its code nor its signal is known.</summary>
    internal static ExitStatus Unknown => new(null, null);

    public bool IsClean => ExitCode == 0;

    /// <summary>"killed by signal SIGKILL", "exited with error code 42", "exited cleanly" or "ended, status unknown".</summary>
    public string Describe() => (ExitCode, Signal) switch
    {
        (_, { } signal) => $"killed by signal {SignalNames.Name(signal)}",
        (0, _) => "exited cleanly",
        ({ } code, _) => $"exited with error code {code}",
        _ => "ended, status unknown",
    };

    public override string ToString() => Describe();
}
