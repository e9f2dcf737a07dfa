using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ProcessCluster;

/// <summary>
/// Reads the "Cluster" section the same way for every host (UseCluster() in an app, and dotnet-cluster run): the
/// options pattern, so a host's or a user's Configure&lt;ClusterOptions&gt; applies, checked when the host starts.
/// </summary>
internal static class ClusterConfiguration
{
    /// <summary>The message a host prints before it exits with <see cref="ClusterExitCodes.InvalidConfiguration"/>.</summary>
    public const string InvalidMessage = "Invalid cluster configuration";

    public static OptionsBuilder<ClusterOptions> AddClusterOptions(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClusterOptions>, ClusterOptionsValidator>());
        services.TryAddTransient<IOptionsFactory<ClusterOptions>, ClusterOptionsFactory>();
        return services.AddOptions<ClusterOptions>().BindConfiguration(ClusterOptions.SectionName).ValidateOnStart();
    }

    /// <summary>
    /// The settings that choose which services a host registers (the role and the log format), read before the
    /// container exists: from the configuration, then <paramref name="configure"/>. A value that does not parse keeps
    /// its default here; the full check at start names it.
    /// </summary>
    public static ClusterOptions ReadEarly(IConfiguration configuration, Action<ClusterOptions>? configure)
    {
        var section = configuration.GetSection(ClusterOptions.SectionName);
        var options = new ClusterOptions();
        if (bool.TryParse(section[nameof(ClusterOptions.Enabled)], out var enabled))
        {
            options.Enabled = enabled;
        }

        if (Enum.TryParse<LogFormat>(section[nameof(ClusterOptions.LogFormat)], ignoreCase: true, out var format))
        {
            options.LogFormat = format;
        }

        configure?.Invoke(options);
        return options;
    }

    /// <summary>The line a host prints for a failure to read the cluster's settings; null when the error is another.</summary>
    public static string? Describe(Exception error) => error switch
    {
        OptionsValidationException invalid when invalid.OptionsType == typeof(ClusterOptions) => $"{InvalidMessage}: {string.Join("; ", invalid.Failures)}",
        AggregateException aggregate => aggregate.InnerExceptions.Select(Describe).FirstOrDefault(line => line is not null),
        _ => error.InnerException is { } inner ? Describe(inner) : null,
    };

    /// <summary>
    /// A failure to open what the primary serves on (a taken or unbindable address, a URL that does not parse): the
    /// environment the cluster was given, so either host says so in one line and exits with
    /// <see cref="ClusterExitCodes.InvalidConfiguration"/> instead of a stack trace.
    /// </summary>
    public static bool IsStartFailure(Exception error) => error is FormatException or IOException or System.Net.Sockets.SocketException;

    /// <summary>Every problem <see cref="ClusterOptions.Validate()"/> finds fails the options; a worker's, of the settings it uses.</summary>
    private sealed class ClusterOptionsValidator : IValidateOptions<ClusterOptions>
    {
        public ValidateOptionsResult Validate(string? name, ClusterOptions options) =>
            options.Validate(asPrimary: Cluster.IsPrimary) is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }

    /// <summary>
    /// A value the binder cannot convert (Cluster:HeartbeatTimeout=soon) fails like any other bad setting, as an
    /// <see cref="OptionsValidationException"/> naming it, instead of an <see cref="InvalidOperationException"/>.
    /// </summary>
    private sealed class ClusterOptionsFactory(
        IEnumerable<IConfigureOptions<ClusterOptions>> setups,
        IEnumerable<IPostConfigureOptions<ClusterOptions>> postConfigures,
        IEnumerable<IValidateOptions<ClusterOptions>> validations) : IOptionsFactory<ClusterOptions>
    {
        private readonly OptionsFactory<ClusterOptions> _factory = new(setups, postConfigures, validations);

        public ClusterOptions Create(string name)
        {
            try
            {
                return _factory.Create(name);
            }
            catch (InvalidOperationException error)
            {
                throw new OptionsValidationException(name, typeof(ClusterOptions), [error.Message]);
            }
        }
    }
}
