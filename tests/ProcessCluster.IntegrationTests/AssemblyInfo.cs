// Each test runs a whole cluster; on two cores, clusters side by side would only measure each other.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
