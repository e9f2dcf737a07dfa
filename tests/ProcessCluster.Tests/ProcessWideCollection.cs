namespace ProcessCluster.Tests;

/// <summary>
/// Tests that read state of the whole test process (every meter, the open descriptors) run alone, after the parallel
/// ones: another test's sockets or clusters would be counted too.
/// </summary>
[CollectionDefinition(nameof(ProcessWideCollection), DisableParallelization = true)]
public class ProcessWideCollection;
