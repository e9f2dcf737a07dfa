using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using ProcessCluster.Interop;

namespace ProcessCluster.Distribution;

/// <summary>
/// systemd's socket activation (sd_listen_fds): listening sockets passed from descriptor 3 on, LISTEN_FDS of them,
/// meant for this process when LISTEN_PID is its pid, named by LISTEN_FDNAMES. The unit's .socket keeps them open
/// across restarts of the service, so connections made while no primary runs wait in the kernel's queue.
/// </summary>
internal static class SocketActivation
{
    private const int FirstDescriptor = 3;

    /// <summary>How often an accept thread on an adopted socket looks up to see whether it should stop (it cannot be shut down).</summary>
    public static readonly TimeSpan AcceptWakeInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// The sockets passed to this process: by systemd, and by its previous program when it re-executed itself in place
    /// (<see cref="Primary.UpgradeHandover"/>). Empty when none were. The variables are removed so that no worker takes
    /// the sockets as its own.
    /// </summary>
    public static List<PassedSocket> Take(ILogger logger)
    {
        var passed = TakeFromSystemd(logger);
        foreach (var handed in Primary.UpgradeHandover.Take()?.Sockets ?? [])
        {
            if (!ProcessInterop.IsOpen(handed.Fd))
            {
                logger.LogWarning("The listening socket handed over as descriptor {Fd} ({Requested}) is not open; it is opened anew", handed.Fd, handed.Requested);
                continue;
            }

            passed.Add(new PassedSocket(
                Prepare(handed.Fd), $"fd {handed.Fd} from before the upgrade", "the previous program", handed.Systemd ? SocketOrigin.Systemd : SocketOrigin.Inherited, handed.RequestedEndPoint, handed.Scheme));
        }

        return passed;
    }

    private static List<PassedSocket> TakeFromSystemd(ILogger logger)
    {
        var pid = Environment.GetEnvironmentVariable("LISTEN_PID");
        var count = Environment.GetEnvironmentVariable("LISTEN_FDS");
        var names = (Environment.GetEnvironmentVariable("LISTEN_FDNAMES") ?? "").Split(':');
        foreach (var variable in (string[])["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"])
        {
            Environment.SetEnvironmentVariable(variable, null);
        }

        if (pid is null || count is null)
        {
            return [];
        }

        if (!int.TryParse(pid, out var forPid) || forPid != Environment.ProcessId || !int.TryParse(count, out var fds) || fds < 0)
        {
            logger.LogWarning("Ignoring LISTEN_FDS={Count} LISTEN_PID={Pid}: not sockets passed to this process ({Own})", count, pid, Environment.ProcessId);
            return [];
        }

        var sockets = new List<PassedSocket>();
        for (var i = 0; i < fds; i++)
        {
            sockets.Add(new PassedSocket(Prepare(FirstDescriptor + i), i < names.Length && names[i].Length > 0 ? names[i] : $"fd {FirstDescriptor + i}", "systemd", SocketOrigin.Systemd));
        }

        return sockets;
    }

    /// <summary>
    /// Not for the workers (they get the sockets they need from the primary), and waiting again in accept, whatever a
    /// previous primary left set.
    /// </summary>
    private static Socket Prepare(int fd)
    {
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        SocketInterop.SetCloseOnExec(fd);
        SocketInterop.SetBlocking(fd);
        SocketInterop.SetTimeout(fd, send: false, AcceptWakeInterval);
        return socket;
    }

    /// <summary>
    /// Takes out of <paramref name="passed"/> the socket that serves <paramref name="wanted"/> (same local address, or
    /// the same socket file), logging the adoption; null when none was passed for it. One inherited from the previous
    /// program is this primary's own: it listens with the <paramref name="backlog"/> configured now, as one opened here
    /// would; systemd's keeps the backlog its unit sets.
    /// </summary>
    public static PassedSocket? TryAdopt(List<PassedSocket> passed, EndPoint wanted, string url, int backlog, ILogger logger)
    {
        var found = passed.FindIndex(candidate =>
            (candidate.Socket.LocalEndPoint is { } bound && EndpointMatch.SameEndpoint(bound, wanted))
            || (candidate.Requested is { } requested && EndpointMatch.SameEndpoint(requested, wanted)));
        if (found < 0)
        {
            return null;
        }

        var adopted = passed[found];
        passed.RemoveAt(found);
        if (adopted.Origin == SocketOrigin.Inherited)
        {
            adopted.Socket.Listen(backlog);
        }

        logger.LogInformation("Adopted the listening socket {Address} ({Name}) passed by {Source} for {Url}", adopted.Socket.LocalEndPoint, adopted.Name, adopted.Source, url);
        return adopted;
    }

    /// <summary>Says which passed sockets no endpoint took (a unit and an app that disagree on the addresses).</summary>
    public static void WarnUnused(IEnumerable<PassedSocket> passed, ILogger logger)
    {
        foreach (var (socket, name, source, _, _, _) in passed)
        {
            logger.LogWarning("{Source} passed a socket ({Name}, {Address}) that no endpoint of the cluster listens on; it is left unused", source, name, socket.LocalEndPoint);
        }
    }
}

/// <summary>
/// A listening socket this process was given, by <paramref name="Source"/>; <paramref name="Requested"/> is the
/// endpoint it was opened for when that differs from its address (port 0, handed over by an in-place upgrade), and
/// <paramref name="Scheme"/> the scheme it was served with, when handed over.
/// </summary>
internal sealed record PassedSocket(Socket Socket, string Name, string Source, SocketOrigin Origin, EndPoint? Requested = null, string Scheme = "http");
