using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// A new worker's request to itself before it reports ready (Cluster:WarmupPath): a loopback TCP connection slipped
/// into its own inbox, so Kestrel and the app serve it exactly as a client's, and the code on that path is compiled
/// before the first client arrives. A failed warm-up is logged and the worker goes on; it is an optimisation.
/// </summary>
internal static class WorkerWarmup
{
    public static async Task RunAsync(ConnectionInbox inbox, string path, TimeSpan timeout, ILogger logger, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            var (client, server) = await ConnectedPairAsync(deadline.Token).ConfigureAwait(false);
            if (!inbox.OfferLocal(server))
            {
                server.Dispose();
                client.Dispose();
                return;
            }

            // HTTP/1.1 by hand: the worker's first request should not first load and compile an HTTP client.
            await using var stream = new NetworkStream(client, ownsSocket: true);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), deadline.Token).ConfigureAwait(false);
            using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
            var statusLine = await reader.ReadLineAsync(deadline.Token).ConfigureAwait(false) ?? "no answer";
            // The whole answer is read (and dropped), so the app's code that writes it runs too.
            await stream.CopyToAsync(Stream.Null, deadline.Token).ConfigureAwait(false);
            var status = statusLine.Split(' ') is [_, var code, ..] && int.TryParse(code, out var parsed) ? parsed : 0;
            if (status is >= 200 and < 300)
            {
                logger.LogInformation("Warm-up GET {Path}: {Status} in {Elapsed} ms", path, status, clock.ElapsedMilliseconds);
            }
            else
            {
                logger.LogWarning(
                    "Warm-up GET {Path} answered {Status} in {Elapsed} ms (Cluster:WarmupPath should be a route that answers 2xx)",
                    path,
                    status > 0 ? status : statusLine,
                    clock.ElapsedMilliseconds);
            }
        }
        catch (Exception error) when (error is IOException or SocketException or OperationCanceledException)
        {
            logger.LogWarning("Warm-up GET {Path} failed after {Elapsed} ms: {Reason}", path, clock.ElapsedMilliseconds, error.Message);
        }
    }

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
