using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace ProcessCluster.AspNetCore;

/// <summary>Kestrel connections for sockets this worker got itself (handed over, or taken from the shared queue), tuned like Kestrel's own.</summary>
internal static class SocketContexts
{
    public static SocketConnectionContextFactory Create(SocketTransportOptions options, ILogger logger) => new(
        new SocketConnectionFactoryOptions
        {
            IOQueueCount = options.IOQueueCount,
            WaitForDataBeforeAllocatingBuffer = options.WaitForDataBeforeAllocatingBuffer,
            MaxReadBufferSize = options.MaxReadBufferSize,
            MaxWriteBufferSize = options.MaxWriteBufferSize,
            UnsafePreferInlineScheduling = options.UnsafePreferInlineScheduling,
        },
        logger);
}
