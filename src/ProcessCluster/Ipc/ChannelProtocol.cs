using System.Reflection;

namespace ProcessCluster.Ipc;

/// <summary>
/// The version of the primary–worker channel protocol, apart from the package's: a worker of a newer package that
/// still speaks the protocol is accepted. Raise it with any change to the frames that an older peer would misread.
/// </summary>
internal static class ChannelProtocol
{
    public const int Version = 2; // 2: a NewConnection frame carries several connections; Backplane; Pause, Paused and Resume

    /// <summary>The longest library version a Hello may carry; it goes into log lines.</summary>
    public const int MaxLibraryLength = 100;

    /// <summary>This library's version (its assembly's informational version).</summary>
    public static string Library { get; } =
        typeof(ChannelProtocol).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>Whether this primary speaks a worker's protocol. A Hello from before versions carried none (0).</summary>
    public static bool Speaks(int protocol) => protocol == Version;

    /// <summary>Why a worker and a primary of different protocols cannot talk, and what to do.</summary>
    public static string Mismatch(int workerProtocol, string? workerLibrary, int primaryProtocol, string? primaryLibrary) =>
        $"worker built with ProcessCluster {workerLibrary ?? "unknown"} (protocol {workerProtocol}), primary runs {primaryLibrary ?? "unknown"} (protocol {primaryProtocol}); restart the primary to upgrade";

    /// <summary>Null when the Hello's library version is fit to log; else why not.</summary>
    public static string? CheckLibrary(string? library) =>
        library is null ? null
        : library.Length > MaxLibraryLength ? $"library version longer than {MaxLibraryLength} characters"
        : library.Any(char.IsControl) ? "library version with control characters"
        : null;
}
