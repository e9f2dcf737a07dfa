using Microsoft.Extensions.Configuration;

namespace ProcessCluster;

/// <summary>Reads the "Cluster" section the same way for every host: UseCluster() in an app, and dotnet-cluster run.</summary>
public static class ClusterConfiguration
{
    /// <summary>
    /// Binds and validates the cluster's settings. Settings it cannot run with are fatal: each problem is printed to
    /// standard error and the process exits with <see cref="ClusterExitCodes.InvalidConfiguration"/>.
    /// </summary>
    public static ClusterOptions BindOrExit(IConfiguration configuration, Action<ClusterOptions>? configure = null)
    {
        var options = new ClusterOptions();
        IReadOnlyList<string> errors;
        try
        {
            configuration.GetSection(ClusterOptions.SectionName).Bind(options);
            configure?.Invoke(options);
            errors = options.Validate();
        }
        catch (InvalidOperationException error)
        {
            errors = [error.Message];
        }

        if (errors.Count > 0)
        {
            Console.Error.WriteLine($"Invalid cluster configuration: {string.Join("; ", errors)}");
            Environment.Exit(ClusterExitCodes.InvalidConfiguration);
        }

        return options;
    }
}
