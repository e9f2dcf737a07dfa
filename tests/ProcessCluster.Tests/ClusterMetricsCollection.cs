namespace ProcessCluster.Tests;

/// <summary>Tests that listen to every meter in the process run alone.</summary>
[CollectionDefinition(nameof(ClusterMetricsTests), DisableParallelization = true)]
public class ClusterMetricsCollection;
