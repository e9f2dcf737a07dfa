namespace ProcessCluster.Worker;

/// <summary>The slot of each ASP.NET Core instrument a worker folds (<see cref="HttpMetricsAggregator"/>), given to the listener as the instrument's state.</summary>
internal enum HttpInstrument
{
    ActiveConnections,
    ActiveRequests,
    RequestDuration,
    ConnectionDuration,
}
