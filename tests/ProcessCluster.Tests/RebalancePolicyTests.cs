using ProcessCluster.Policies;

namespace ProcessCluster.Tests;

public class RebalancePolicyTests
{
    [Fact]
    public void A_worker_holding_every_connection_sheds_down_to_its_share()
    {
        Assert.Equal([8, 0], RebalancePolicy.Shed([16, 0]));
        Assert.Equal([10, 0, 0], RebalancePolicy.Shed([16, 0, 0]));
        Assert.Equal([0, 27, 0, 0], RebalancePolicy.Shed([10, 40, 0, 0]));
    }

    [Fact]
    public void An_even_enough_spread_is_left_alone()
    {
        Assert.Equal([0, 0], RebalancePolicy.Shed([9, 7]));
        Assert.Equal([0, 0, 0], RebalancePolicy.Shed([0, 0, 0]));
        Assert.Equal([0], RebalancePolicy.Shed([50]));
    }
}
