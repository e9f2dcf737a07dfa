using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ProcessCluster.AspNetCore;

namespace ProcessCluster.Tests;

/// <summary>UseCluster() reads its settings through the options pattern: later Configure calls apply, and bad values fail the options.</summary>
public class ClusterOptionsHostingTests
{
    [Fact]
    public void A_users_Configure_after_UseCluster_takes_effect()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.UseCluster(options => options.Workers = 2);
        builder.Services.Configure<ClusterOptions>(options => options.Workers = 3);
        using var app = builder.Build();

        Assert.Equal(3, app.Services.GetRequiredService<IOptions<ClusterOptions>>().Value.Workers);
        Assert.Equal(3, app.Services.GetRequiredService<ClusterOptions>().Workers);
    }

    [Fact]
    public void Settings_come_from_the_Cluster_section()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["Cluster:MaxRequests"] = "500";
        builder.UseCluster();
        using var app = builder.Build();

        Assert.Equal(500, app.Services.GetRequiredService<IOptions<ClusterOptions>>().Value.MaxRequests);
    }

    [Theory]
    [InlineData("Cluster:Workers", "0", "Cluster:Workers must be at least 1")]
    [InlineData("Cluster:HeartbeatTimeout", "soon", "Cluster:HeartbeatTimeout")]
    public void A_bad_setting_fails_the_options_naming_it(string key, string value, string message)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration[key] = value;
        builder.UseCluster();

        // The host's own options need the drain timeout, so Build() may be where the settings are first read.
        var error = Assert.Throws<OptionsValidationException>(() => builder.Build().Services.GetRequiredService<IOptions<ClusterOptions>>().Value);
        Assert.StartsWith("Invalid cluster configuration: ", ClusterConfiguration.Describe(error), StringComparison.Ordinal);
        Assert.Contains(message, ClusterConfiguration.Describe(error), StringComparison.Ordinal);
    }
}
