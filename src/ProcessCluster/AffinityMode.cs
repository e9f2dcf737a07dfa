namespace ProcessCluster;

/// <summary>Which connections go back to the same worker (RoundRobin scheduling only); any other goes round-robin.</summary>
public enum AffinityMode
{
    /// <summary>None: every connection goes to the worker the dispatch mode picks.</summary>
    None,

    /// <summary>
    /// A request carrying a connection token issued by a worker (<c>?id=w3.…</c>, as ProcessCluster.SignalR issues them)
    /// goes back to that worker, whatever the transport. The primary peeks at the request line of each new connection
    /// (at most 4 KiB and 1 s; the worker still reads everything), so TLS endpoints, whose bytes it cannot read, go
    /// round-robin. A token whose worker is gone or not ready goes round-robin too, and the client reconnects.
    /// </summary>
    ConnectionToken,

    /// <summary>
    /// Every connection from one client address goes to the same ready worker (a hash of the address over the ready
    /// workers). Clients behind one proxy or NAT all land on one worker, and a change in the ready workers (a crash, a
    /// reload, scaling) moves some addresses to another worker.
    /// </summary>
    ClientIp,
}
