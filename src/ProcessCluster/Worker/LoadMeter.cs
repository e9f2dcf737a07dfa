using System.Diagnostics;
using ProcessCluster.Ipc;

namespace ProcessCluster.Worker;

/// <summary>
/// This worker's load as the primary sees it: requests started (it recycles on the total), requests in flight and
/// busy time (at least one request in flight; it scales and balances on them), and open connections (it rebalances
/// on them). The server integration counts every request and connection; any thread may call.
/// </summary>
internal sealed class LoadMeter
{
    private long _requests;
    private int _requestsInFlight;
    private long _busyTicks;
    private long _busySince;
    private int _openConnections;

    public long Requests => Interlocked.Read(ref _requests);

    public int OpenConnections => Volatile.Read(ref _openConnections);

    /// <summary>
    /// Called, on the request's thread, when requests in flight reach a power of two from 2 up (2, 4, 8, ...): a step in
    /// load, which the primary should hear of now rather than at the next timed report. Set once, before requests come.
    /// </summary>
    public Action? InFlightRose { get; set; }

    public void RequestStarted()
    {
        Interlocked.Increment(ref _requests);
        var inFlight = Interlocked.Increment(ref _requestsInFlight);
        if (inFlight == 1)
        {
            Volatile.Write(ref _busySince, Stopwatch.GetTimestamp());
        }
        else if ((inFlight & (inFlight - 1)) == 0)
        {
            InFlightRose?.Invoke();
        }
    }

    public void RequestFinished()
    {
        if (Interlocked.Decrement(ref _requestsInFlight) == 0)
        {
            Interlocked.Add(ref _busyTicks, Stopwatch.GetTimestamp() - Volatile.Read(ref _busySince));
        }
    }

    public void ConnectionOpened() => Interlocked.Increment(ref _openConnections);

    public void ConnectionClosed() => Interlocked.Decrement(ref _openConnections);

    /// <summary>The counters now, busy time including the current busy stretch, for a heartbeat or load report.</summary>
    public WorkerLoadReport Report()
    {
        var now = Stopwatch.GetTimestamp();
        var inFlight = Volatile.Read(ref _requestsInFlight);
        var busy = Interlocked.Read(ref _busyTicks) + (inFlight > 0 ? now - Volatile.Read(ref _busySince) : 0);
        return new WorkerLoadReport(Requests, inFlight, ToMicroseconds(busy), ToMicroseconds(now), OpenConnections);
    }

    private static long ToMicroseconds(long ticks) => (long)(ticks * (1_000_000.0 / Stopwatch.Frequency));
}
