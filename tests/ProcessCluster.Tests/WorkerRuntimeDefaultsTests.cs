using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

public class WorkerRuntimeDefaultsTests
{
    private const string Variable = "DOTNET_ThreadPool_UnfairSemaphoreSpinLimit";

    [Fact]
    public void A_worker_gets_no_thread_pool_spinning_when_nothing_chose_it()
    {
        var variables = new Dictionary<string, string> { ["PATH"] = "/usr/bin" };
        WorkerRuntimeDefaults.AddTo(variables, _ => false);
        Assert.Equal("0", variables[Variable]);
        Assert.Equal("/usr/bin", variables["PATH"]);
    }

    [Theory]
    [InlineData(Variable)]
    [InlineData("COMPlus_ThreadPool_UnfairSemaphoreSpinLimit")]
    public void A_variable_the_operator_set_wins(string name)
    {
        var variables = new Dictionary<string, string> { [name] = "70" };
        WorkerRuntimeDefaults.AddTo(variables, _ => false);
        Assert.Equal(new Dictionary<string, string> { [name] = "70" }, variables);
    }

    [Fact]
    public void A_setting_in_the_apps_runtimeconfig_is_not_overridden_by_a_variable()
    {
        var variables = new Dictionary<string, string>();
        WorkerRuntimeDefaults.AddTo(variables, property => property == WorkerRuntimeDefaults.SpinLimitProperty);
        Assert.Empty(variables);
    }
}
