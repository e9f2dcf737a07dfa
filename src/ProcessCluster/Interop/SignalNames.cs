namespace ProcessCluster.Interop;

/// <summary>Linux signal numbers and their names, for logs a person can read.</summary>
internal static class SignalNames
{
    public const int SIGHUP = 1;
    public const int SIGQUIT = 3;
    public const int SIGKILL = 9;
    public const int SIGUSR2 = 12;
    public const int SIGTERM = 15;
    public const int SIGTTIN = 21;
    public const int SIGTTOU = 22;

    private static readonly string[] Names =
    [
        "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1",
        "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
        "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ];

    /// <summary>The number of a classic signal given as "SIGKILL", "KILL" or "9" (any case); null when it names none.</summary>
    public static int? Parse(string text)
    {
        if (int.TryParse(text, out var number))
        {
            return number is > 0 and < 32 ? number : null;
        }

        var name = text.Trim().ToUpperInvariant();
        var index = Array.IndexOf(Names, name.StartsWith("SIG", StringComparison.Ordinal) ? name : "SIG" + name);
        return index > 0 ? index : null;
    }

    /// <summary>"SIGKILL" for 9; real-time signals as "SIGRTMIN+n"; anything else as "signal n".</summary>
    public static string Name(int signal) => signal switch
    {
        > 0 and < 32 => Names[signal],
        >= 34 and <= 64 => $"SIGRTMIN+{signal - 34}",
        _ => $"signal {signal}",
    };
}
