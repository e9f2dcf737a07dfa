using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using ProcessCluster.Telemetry;

namespace ProcessCluster.Tests;

/// <summary>The cluster's meter comes from the container's IMeterFactory when there is one, under the same name.</summary>
/// <remarks>Alone: a meter listener hears every meter in the process, and other tests create clusters.</remarks>
[Collection(nameof(ProcessWideCollection))]
public class ClusterMetricsTests
{
    [Fact]
    public void With_a_meter_factory_the_meter_is_the_containers()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        var scopes = new List<object?>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == ClusterMetrics.MeterName && instrument.Name == "processcluster.workers")
                {
                    scopes.Add(instrument.Meter.Scope);
                }
            },
        };
        listener.Start();

        using (new ClusterMetrics(() => [], () => 2, () => 2, () => 0, factory))
        {
        }

        using (new ClusterMetrics(() => [], () => 2, () => 2, () => 0))
        {
        }

        Assert.Equal([factory, null], scopes);
    }
}
