namespace ProcessCluster;

/// <summary>Every cluster setting, bound from the configuration section "Cluster" (Cluster__Workers, --Cluster:Workers, ...).</summary>
public sealed class ClusterOptions
{
    public const string SectionName = "Cluster";

    /// <summary>False runs the app as one plain process, as if it were not a cluster (for debugging, or a baseline).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How many workers to run; defaults to the number of CPUs.</summary>
    public int Workers { get; set; } = Environment.ProcessorCount;

    public SchedulingMode Scheduling { get; set; } = SchedulingMode.RoundRobin;

    /// <summary>Accepted connections the primary holds while no worker can take them; past this it stops accepting.</summary>
    public int MaxPendingConnections { get; set; } = 1024;

    /// <summary>Connections handed to one worker and not yet acknowledged; the primary keeps its copy of each until then.</summary>
    public int MaxHandoffsInFlight { get; set; } = 8;

    /// <summary>The listen backlog of the sockets the primary opens.</summary>
    public int Backlog { get; set; } = 511;

    /// <summary>The largest frame on the primary–worker channel; a larger one drops the channel.</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a graceful stop waits for workers before killing them.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Every problem with these settings, each naming the setting; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Workers < 1)
        {
            errors.Add($"{SectionName}:Workers must be at least 1 (was {Workers})");
        }

        if (!Enum.IsDefined(Scheduling))
        {
            errors.Add($"{SectionName}:Scheduling must be RoundRobin or Shared (was {Scheduling})");
        }

        if (MaxPendingConnections < 1)
        {
            errors.Add($"{SectionName}:MaxPendingConnections must be at least 1 (was {MaxPendingConnections})");
        }

        if (MaxHandoffsInFlight < 1)
        {
            errors.Add($"{SectionName}:MaxHandoffsInFlight must be at least 1 (was {MaxHandoffsInFlight})");
        }

        if (Backlog < 1)
        {
            errors.Add($"{SectionName}:Backlog must be at least 1 (was {Backlog})");
        }

        if (MaxMessageBytes < 4096)
        {
            errors.Add($"{SectionName}:MaxMessageBytes must be at least 4096 (was {MaxMessageBytes})");
        }

        if (DrainTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{SectionName}:DrainTimeout must be positive (was {DrainTimeout})");
        }

        return errors;
    }
}
