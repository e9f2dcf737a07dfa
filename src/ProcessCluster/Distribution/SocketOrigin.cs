namespace ProcessCluster.Distribution;

/// <summary>Where a listening socket came from, and so what the primary may do with it (see <see cref="BoundEndpoint"/>).</summary>
internal enum SocketOrigin
{
    /// <summary>Bound and listened on by this primary: its own, the file of a Unix socket included.</summary>
    Opened,

    /// <summary>
    /// Passed by systemd (socket activation), directly or through an in-place upgrade: systemd keeps it open across
    /// restarts of the service, so it outlives this primary, which must leave it as the next one expects it.
    /// </summary>
    Systemd,

    /// <summary>
    /// Opened by the previous program of this process and inherited through an in-place upgrade (execve): that program
    /// is gone, so the socket is this primary's own, as if opened here.
    /// </summary>
    Inherited,
}
