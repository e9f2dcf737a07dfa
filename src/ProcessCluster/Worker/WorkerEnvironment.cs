using System.Globalization;

namespace ProcessCluster.Worker;

/// <summary>
/// What the primary tells a worker through its environment (Node's NODE_UNIQUE_ID and NODE_CHANNEL_FD).
/// The worker removes these variables once read, so processes it starts are not taken for workers.
/// </summary>
internal sealed record WorkerEnvironment(int WorkerId, string ChannelName, string Secret, int PrimaryPid)
{
    public const string WorkerIdVariable = "PROCESSCLUSTER_WORKER_ID";
    public const string ChannelVariable = "PROCESSCLUSTER_CHANNEL";
    public const string SecretVariable = "PROCESSCLUSTER_SECRET";
    public const string PrimaryPidVariable = "PROCESSCLUSTER_PRIMARY_PID";

    private static readonly Lazy<WorkerEnvironment?> CurrentLazy = new(ReadAndClear);

    /// <summary>This process's worker environment, or null in a primary (read once, at first use).</summary>
    public static WorkerEnvironment? Current => CurrentLazy.Value;

    public IEnumerable<KeyValuePair<string, string>> ToVariables() =>
    [
        new(WorkerIdVariable, WorkerId.ToString(CultureInfo.InvariantCulture)),
        new(ChannelVariable, ChannelName),
        new(SecretVariable, Secret),
        new(PrimaryPidVariable, PrimaryPid.ToString(CultureInfo.InvariantCulture)),
    ];

    private static WorkerEnvironment? ReadAndClear()
    {
        var id = Environment.GetEnvironmentVariable(WorkerIdVariable);
        if (id is null)
        {
            return null;
        }

        var channel = Environment.GetEnvironmentVariable(ChannelVariable);
        var secret = Environment.GetEnvironmentVariable(SecretVariable);
        var primary = Environment.GetEnvironmentVariable(PrimaryPidVariable);
        foreach (var variable in new[] { WorkerIdVariable, ChannelVariable, SecretVariable, PrimaryPidVariable })
        {
            Environment.SetEnvironmentVariable(variable, null);
        }

        if (!int.TryParse(id, CultureInfo.InvariantCulture, out var workerId) || channel is null || secret is null
            || !int.TryParse(primary, CultureInfo.InvariantCulture, out var primaryPid))
        {
            throw new InvalidOperationException($"{WorkerIdVariable} is set but the rest of the worker environment is missing or malformed");
        }

        return new WorkerEnvironment(workerId, channel, secret, primaryPid);
    }
}
