namespace ProcessCluster;

/// <summary>How the primary writes its own log and the lines its workers print.</summary>
public enum LogFormat
{
    /// <summary>Plain lines; a worker's lines are prefixed with its id and pid.</summary>
    Text,

    /// <summary>One JSON object per line, for log shippers.</summary>
    Json,
}
