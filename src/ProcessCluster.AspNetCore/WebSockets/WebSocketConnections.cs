using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ProcessCluster.AspNetCore.WebSockets;

/// <summary>
/// The worker's open WebSocket connections, whichever WebSocket code the app uses: the worker's middleware, ahead of
/// the app's UseWebSockets(), wraps the upgrade (HTTP/1.1) and extended CONNECT (HTTP/2) features, so each stream the
/// app's WebSocket is built on is a <see cref="GoingAwayStream"/> known here. The app's WebSocket options (origins,
/// keep-alive) are untouched. When the worker drains, each gets a close frame 1001 "going away" after its current message.
/// </summary>
internal sealed class WebSocketConnections
{
    private readonly ConcurrentDictionary<GoingAwayStream, bool> _open = new();
    private volatile bool _goingAway;

    public int Count => _open.Count;

    /// <summary>For a WebSocket handshake, wraps the features it upgrades through; returns the tracker to <see cref="Upgrade.Forget"/> at the request's end.</summary>
    public Upgrade? Intercept(HttpContext context)
    {
        var features = context.Features;
        if (features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade
            && context.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase))
        {
            var tracked = new Upgrade(this);
            features.Set<IHttpUpgradeFeature>(new TrackedUpgradeFeature(upgrade, tracked));
            return tracked;
        }

        if (features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true, Protocol: var protocol } connect
            && string.Equals(protocol, "websocket", StringComparison.OrdinalIgnoreCase))
        {
            var tracked = new Upgrade(this);
            features.Set<IHttpExtendedConnectFeature>(new TrackedConnectFeature(connect, tracked));
            return tracked;
        }

        return null;
    }

    /// <summary>Each open WebSocket, and each one accepted from now on, closes with 1001 after its current message.</summary>
    public void GoAway()
    {
        _goingAway = true;
        foreach (var stream in _open.Keys)
        {
            _ = stream.TryGoAwayAsync();
        }
    }

    private GoingAwayStream Add(Stream upgraded)
    {
        var stream = new GoingAwayStream(upgraded);
        _open[stream] = true;
        if (_goingAway)
        {
            _ = stream.TryGoAwayAsync();
        }

        return stream;
    }

    /// <summary>One WebSocket request: its stream once upgraded, forgotten when the request ends.</summary>
    internal sealed class Upgrade(WebSocketConnections connections)
    {
        private GoingAwayStream? _stream;

        public Stream Accepted(Stream upgraded)
        {
            _stream = connections.Add(upgraded);
            return _stream;
        }

        public void Forget()
        {
            if (_stream is { } stream)
            {
                connections._open.TryRemove(stream, out _);
            }
        }
    }

    private sealed class TrackedUpgradeFeature(IHttpUpgradeFeature inner, Upgrade upgrade) : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync() => upgrade.Accepted(await inner.UpgradeAsync().ConfigureAwait(false));
    }

    private sealed class TrackedConnectFeature(IHttpExtendedConnectFeature inner, Upgrade upgrade) : IHttpExtendedConnectFeature
    {
        public bool IsExtendedConnect => inner.IsExtendedConnect;

        public string? Protocol => inner.Protocol;

        public async ValueTask<Stream> AcceptAsync() => upgrade.Accepted(await inner.AcceptAsync().ConfigureAwait(false));
    }
}
