using ProcessCluster.Ipc;

namespace ProcessCluster.Worker;

/// <summary>
/// Tells the primary, every heartbeat interval, that this worker is alive and how loaded it is; and, when the primary
/// scales or balances by load, reports the load on its own timer as well, and at once when requests in flight step up
/// (<see cref="LoadMeter.InFlightRose"/>), at most once per <see cref="ChangeReportSpacing"/>. The timers run for the
/// process's lifetime.
/// </summary>
internal sealed class HeartbeatSender
{
    /// <summary>Reports on a change go at most this often, so a flapping worker costs the primary at most 10 more a second.</summary>
    public static readonly TimeSpan ChangeReportSpacing = TimeSpan.FromMilliseconds(100);

    private readonly PrimaryConnection _primary;
    private readonly LoadMeter _load;
    private readonly Timer _heartbeats;
    private readonly Timer? _loadReports;
    private readonly Timer? _changeReports;
    private readonly object _changeGate = new();
    private bool _changeReportDue;
    private long _lastChangeReportAt = long.MinValue / 2;

    /// <summary>
    /// The heartbeat timer only queues the heartbeat; the thread pool's global queue sends it. A pool that is starved or
    /// blocked by the app never gets to it, so the primary sees the worker as hung — which is what such a worker is.
    /// (Timer callbacks themselves jump ahead of queued work, so sending from the callback would hide the hang.)
    /// </summary>
    public HeartbeatSender(PrimaryConnection primary, LoadMeter load, TimeSpan heartbeatInterval, TimeSpan? loadReportInterval)
    {
        _primary = primary;
        _load = load;
        var heartbeat = new byte[FrameFormat.HeartbeatSize];
        _heartbeats = new Timer(
            static state => ThreadPool.UnsafeQueueUserWorkItem(static sender => sender(), (Action)state!, preferLocal: false),
            (Action)(() => SendReport(FrameType.Heartbeat, heartbeat)),
            heartbeatInterval,
            heartbeatInterval);

        // Load reports are sent from the timer callback itself: they must stay timely when the pool is saturated.
        if (loadReportInterval is { } interval)
        {
            var report = new byte[FrameFormat.HeartbeatSize];
            _loadReports = new Timer(_ => SendReport(FrameType.LoadReport, report), null, interval, interval);
            _changeReports = new Timer(_ => SendChangeReport(report));
            load.InFlightRose = LoadRose;
        }
    }

    /// <summary>
    /// A step up in load: a report goes now, or at the end of the spacing when one went less than that ago; a rise while
    /// one is due is carried by it. The request's thread only arms a timer: the timer's callback sends.
    /// </summary>
    private void LoadRose()
    {
        lock (_changeGate)
        {
            if (_changeReportDue)
            {
                return;
            }

            _changeReportDue = true;
            var wait = Math.Max(0, _lastChangeReportAt + (long)ChangeReportSpacing.TotalMilliseconds - Environment.TickCount64);
            _changeReports!.Change(wait, Timeout.Infinite);
        }
    }

    private void SendChangeReport(byte[] report)
    {
        lock (_changeGate)
        {
            _changeReportDue = false;
            _lastChangeReportAt = Environment.TickCount64;
        }

        SendReport(FrameType.LoadReport, report);
    }

    /// <summary>Each kind of report has its own buffer; its lock keeps two overdue ticks from writing it at once.</summary>
    private void SendReport(FrameType type, byte[] payload)
    {
        lock (payload)
        {
            FrameFormat.WriteHeartbeat(payload, _load.Report());
            _primary.TrySend(type, payload);
        }
    }
}
