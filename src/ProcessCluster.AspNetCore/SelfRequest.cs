using System.Net;
using System.Net.Sockets;
using System.Text;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// A worker's GET to itself (warm-up, health probe): a loopback TCP connection slipped into its own inbox, so Kestrel
/// and the app serve it exactly as a client's request, through every middleware, and no other worker can get it.
/// </summary>
internal static class SelfRequest
{
    /// <summary>The answer's status (0 when there is none) and status line; throws when the connection fails or times out.</summary>
    public static async Task<(int Status, string StatusLine)> GetAsync(ConnectionInbox inbox, string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var (client, server) = await ConnectedPairAsync(deadline.Token).ConfigureAwait(false);
        if (!inbox.OfferLocal(server))
        {
            server.Dispose();
            client.Dispose();
            return (0, "the worker takes no more connections");
        }

        // HTTP/1.1 by hand: a worker's first request should not first load and compile an HTTP client.
        await using var stream = new NetworkStream(client, ownsSocket: true);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), deadline.Token).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
        var statusLine = await reader.ReadLineAsync(deadline.Token).ConfigureAwait(false) ?? "no answer";
        // The whole answer is read (and dropped), so the app's code that writes it runs too.
        await stream.CopyToAsync(Stream.Null, deadline.Token).ConfigureAwait(false);
        return (statusLine.Split(' ') is [_, var code, ..] && int.TryParse(code, out var status) ? status : 0, statusLine);
    }

    /// <summary>For the health probe: the status, 0 when the request failed or timed out.</summary>
    public static async Task<int> StatusAsync(ConnectionInbox inbox, string path, TimeSpan timeout)
    {
        try
        {
            return (await GetAsync(inbox, path, timeout, CancellationToken.None).ConfigureAwait(false)).Status;
        }
        catch (Exception error) when (IsFailure(error))
        {
            return 0;
        }
    }

    public static bool IsFailure(Exception error) => error is IOException or SocketException or OperationCanceledException;

    /// <summary>Both ends of a loopback TCP connection, through a listener that lives only for it.</summary>
    private static async Task<(Socket Client, Socket Server)> ConnectedPairAsync(CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await client.ConnectAsync(listener.LocalEndPoint!, cancellationToken).ConfigureAwait(false);
            var server = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            server.NoDelay = true;
            return (client, server);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}
