using ProcessCluster.Ipc;
using ProcessCluster.Primary;
using ProcessCluster.Worker;

namespace ProcessCluster.Tests;

/// <summary>Load as a worker reports it on a step and as the primary samples it: a report on a change is heard at once, without making a busy fraction of its own.</summary>
public class LoadReportingTests
{
    [Fact]
    public void A_worker_reports_when_its_requests_in_flight_reach_each_power_of_two_from_two()
    {
        var meter = new LoadMeter();
        var rises = new List<int>();
        meter.InFlightRose = () => rises.Add(meter.Report().InFlight);
        for (var i = 0; i < 17; i++)
        {
            meter.RequestStarted();
        }

        Assert.Equal([2, 4, 8, 16], rises);

        // Falling and rising again past a power of two reports it again.
        for (var i = 0; i < 10; i++)
        {
            meter.RequestFinished();
        }

        meter.RequestStarted();
        meter.RequestStarted();
        Assert.Equal([2, 4, 8, 16, 8], rises);
    }

    [Fact]
    public void A_report_right_after_another_counts_toward_the_next_sample_instead_of_making_a_fraction_of_its_own()
    {
        var now = DateTimeOffset.UnixEpoch;
        var view = new WorkerView(1, now).WithLoad(Report(clockMs: 0, busyMs: 0), alive: false, now);
        Assert.Null(view.BusyFraction);

        // 10 ms later, busy all along (a step sent on the change): too short a sample to judge.
        view = view.WithLoad(Report(clockMs: 10, busyMs: 10), alive: false, now);
        Assert.Null(view.BusyFraction);
        Assert.Equal(10, view.Load!.Value.BusyMicroseconds / 1000);

        // The timed report closes the sample from the last baseline: 100 ms busy in 500 ms.
        view = view.WithLoad(Report(clockMs: 500, busyMs: 100), alive: false, now);
        Assert.Equal(0.2, view.BusyFraction!.Value, 3);
        view = view.WithLoad(Report(clockMs: 510, busyMs: 110), alive: false, now);
        Assert.Equal(0.2, view.BusyFraction!.Value, 3);
    }

    private static WorkerLoadReport Report(long clockMs, long busyMs) => new(0, 0, busyMs * 1000, clockMs * 1000, 0);
}
