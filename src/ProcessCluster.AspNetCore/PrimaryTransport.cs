using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProcessCluster.Distribution;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// The in-app primary's Kestrel transport. Kestrel runs in the primary so that its own configuration loader decides
/// the endpoints, from every source it reads (URLs, Kestrel:Endpoints, Listen* in code, its defaults), with its own
/// fallbacks (IPv6 "any" to IPv4, one loopback of localhost) and errors (a taken address, a bad certificate). Each
/// endpoint it binds is opened here for the cluster, as Kestrel's socket transport would open it
/// (<see cref="SocketTransportOptions.CreateBoundListenSocket"/>, so a Unix socket's file gets the same mode), and
/// its listener never yields a connection: the workers serve them all. A socket passed for an endpoint (by systemd's
/// socket activation, or by the previous program of an in-place upgrade) is adopted instead of opened.
/// </summary>
internal sealed class PrimaryTransport(IOptions<SocketTransportOptions> socketOptions, ClusterOptions options, ILoggerFactory loggerFactory)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("ProcessCluster.Primary");
    private readonly List<OpenedSocket> _opened = [];
    private List<PassedSocket>? _passed;
    private bool _started;

    /// <summary>Every endpoint is the cluster's: the primary serves none itself.</summary>
    public bool CanBind(EndPoint endpoint) => true;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not (IPEndPoint or UnixDomainSocketEndPoint))
        {
            throw new NotSupportedException($"{endpoint} is not an address the cluster can serve: it serves TCP addresses and Unix domain sockets");
        }

        lock (_opened)
        {
            if (_started)
            {
                throw new InvalidOperationException($"{endpoint} was not an endpoint when the cluster started; the cluster's endpoints change when the primary restarts");
            }
        }

        lock (_opened)
        {
            _passed ??= SocketActivation.Take(_logger);
            if (SocketActivation.TryAdopt(_passed, endpoint, endpoint.ToString()!, options.Backlog, _logger) is { } adopted)
            {
                _opened.Add(new OpenedSocket(endpoint, adopted.Socket, adopted.Origin));
                return ValueTask.FromResult<IConnectionListener>(new IdleListener(adopted.Socket.LocalEndPoint!));
            }
        }

        Socket socket;
        try
        {
            // ReusePort: the first member of the group the workers' sockets join; SO_REUSEPORT must be set before bind.
            socket = options.Scheduling == SchedulingMode.ReusePort && endpoint is IPEndPoint
                ? ListenSockets.Bind(endpoint, reusePort: true)
                : socketOptions.Value.CreateBoundListenSocket(endpoint);
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // Kestrel turns this one into its usual "Failed to bind to address ...: address already in use."
            throw new AddressInUseException(error.Message, error);
        }

        try
        {
            socket.Listen(options.Backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        lock (_opened)
        {
            _opened.Add(new OpenedSocket(endpoint, socket, SocketOrigin.Opened));
        }

        return ValueTask.FromResult<IConnectionListener>(new IdleListener(socket.LocalEndPoint!));
    }

    /// <summary>The sockets Kestrel's start opened, with the address it asked for (port 0 stays 0), in its order; no endpoint is added after this.</summary>
    public IReadOnlyList<OpenedSocket> TakeOpened()
    {
        lock (_opened)
        {
            _started = true;
            SocketActivation.WarnUnused(_passed ?? [], _logger);
            return _opened.ToList();
        }
    }

    /// <summary>A socket for an endpoint Kestrel asked for (port 0 stays 0), opened here or passed in (<paramref name="Origin"/>).</summary>
    public sealed record OpenedSocket(EndPoint Requested, Socket Socket, SocketOrigin Origin);

    /// <summary>A listener that yields no connection; it ends (null) when Kestrel unbinds it.</summary>
    private sealed class IdleListener(EndPoint endpoint) : IConnectionListener
    {
        private readonly TaskCompletionSource _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EndPoint EndPoint { get; } = endpoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            await _unbound.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }

        /// <summary>The socket stays open: the cluster owns it and closes it when it stops.</summary>
        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _unbound.TrySetResult();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => UnbindAsync();
    }
}
