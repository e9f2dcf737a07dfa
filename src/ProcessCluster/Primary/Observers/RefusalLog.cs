using Microsoft.Extensions.Logging;

namespace ProcessCluster.Primary;

/// <summary>
/// Refused channel connections, logged at most once a minute: any local user can connect to the abstract socket, so
/// a line per refusal would let anyone flood the log. The line that is written counts those left out since the last.
/// </summary>
internal sealed class RefusalLog(ILogger logger, TimeProvider clock)
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private DateTimeOffset? _lastLogged;
    private long _suppressed;

    public void Refused(int pid, string reason)
    {
        long suppressed;
        lock (_lock)
        {
            var now = clock.GetUtcNow();
            if (_lastLogged is { } last && now - last < Interval)
            {
                _suppressed++;
                return;
            }

            _lastLogged = now;
            suppressed = _suppressed;
            _suppressed = 0;
        }

        SupervisorLog.ChannelRefused(logger, pid, reason, suppressed);
    }
}
