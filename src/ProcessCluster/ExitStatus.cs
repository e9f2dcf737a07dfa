using ProcessCluster.Interop;

namespace ProcessCluster;

/// <summary>How a child process ended: an exit code, or the signal that killed it.</summary>
public readonly record struct ExitStatus(int? ExitCode, int? Signal)
{
    /// <summary>A process that exited by itself with this code.</summary>
    public static ExitStatus Exited(int code) => new(code, null);

    /// <summary>A process killed by this signal number.</summary>
    public static ExitStatus Killed(int signal) => new(null, signal);

    /// <summary>A child that ended but was collected by someone else, so neither its code nor its signal is known.</summary>
    internal static ExitStatus Unknown => new(null, null);

    /// <summary>True when it exited with code 0.</summary>
    public bool IsClean => ExitCode == 0;

    /// <summary>"killed by signal SIGKILL", "exited with error code 42", "exited cleanly" or "ended, status unknown".</summary>
    public string Describe() => (ExitCode, Signal) switch
    {
        (_, { } signal) => $"killed by signal {SignalNames.Name(signal)}",
        (0, _) => "exited cleanly",
        ({ } code, _) => $"exited with error code {code}",
        _ => "ended, status unknown",
    };

    /// <summary>The same as <see cref="Describe"/>.</summary>
    public override string ToString() => Describe();
}
