using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;
using ProcessCluster.Primary;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Tests;

/// <summary>Any local user can knock on the channel socket: each refusal is counted, and logged at most once a minute.</summary>
/// <remarks>Alone: a meter listener hears every meter in the process, and other tests create clusters.</remarks>
[Collection(nameof(ClusterMetricsTests))]
public sealed class ChannelRefusalTests
{
    [Fact]
    public void A_flood_of_refused_connections_is_one_line_a_minute_that_counts_the_rest_and_every_one_is_counted()
    {
        var clock = new FakeTimeProvider();
        var log = new RecordingLogger();
        using var metrics = new ClusterMetrics(() => [], () => 1, () => 1, () => 0);
        var counted = 0L;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, meters) =>
            {
                if (instrument.Meter.Name == ClusterMetrics.MeterName && instrument.Name == "processcluster.channel.refused")
                {
                    meters.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref counted, value));
        listener.Start();
        IClusterObserver observers = new ObserverList([new LogObserver(log, clock), new MetricsObserver(metrics)], error => throw error);

        for (var i = 0; i < 1000; i++)
        {
            observers.ChannelRefused(4242, "not a worker this primary started");
            clock.Advance(TimeSpan.FromMilliseconds(50));
        }

        // 1000 refusals over 50 s: one line. The first after the minute says how many were left out.
        Assert.Single(log.Lines);
        clock.Advance(TimeSpan.FromSeconds(10));
        observers.ChannelRefused(4242, "not a worker this primary started");
        Assert.Equal(2, log.Lines.Count);
        Assert.Contains("999 more refused", log.Lines.Last());
        Assert.Equal(1001, counted);
    }}
