using YamlDotNet.RepresentationModel;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// deploy/kubernetes parses as YAML (schema validation belongs elsewhere), and its numbers agree with each other: the
/// grace period outlasts the preStop sleep plus the drain, the probes reach the admin endpoint's health paths, and
/// the workers are fixed at the CPU limit.
/// </summary>
public class KubernetesManifestTests
{
    [Fact]
    public void The_deployment_gives_the_drain_time_to_finish_probes_the_admin_endpoint_and_fixes_the_workers_at_the_cpu_limit()
    {
        var documents = Load("seeddemo.yaml");
        Assert.Equal(["Deployment", "Service"], documents.Select(document => Scalar(document, "kind")));
        var pod = Map(documents[0], "spec", "template", "spec");
        var container = (YamlMappingNode)((YamlSequenceNode)pod["containers"]).Children.Single();
        var environment = ((YamlSequenceNode)container["env"]).Children.Cast<YamlMappingNode>()
            .ToDictionary(variable => Scalar(variable, "name"), variable => Scalar(variable, "value"));

        var drain = TimeSpan.Parse(environment["Cluster__DrainTimeout"]);
        var preStop = int.Parse(Scalar(Map(container, "lifecycle", "preStop", "sleep"), "seconds"));
        Assert.True(int.Parse(Scalar(pod, "terminationGracePeriodSeconds")) > preStop + drain.TotalSeconds, "the grace period must outlast the preStop sleep and the drain");

        var adminPort = new Uri(environment["Cluster__AdminUrl"]).Port;
        var ports = ((YamlSequenceNode)container["ports"]).Children.Cast<YamlMappingNode>()
            .ToDictionary(port => Scalar(port, "name"), port => int.Parse(Scalar(port, "containerPort")));
        Assert.Equal(adminPort, ports["admin"]);
        Assert.Equal("/healthz/ready", Scalar(Map(container, "readinessProbe", "httpGet"), "path"));
        Assert.Equal("/healthz/live", Scalar(Map(container, "livenessProbe", "httpGet"), "path"));
        Assert.All(new[] { "readinessProbe", "livenessProbe", "startupProbe" }, probe => Assert.Equal("admin", Scalar(Map(container, probe, "httpGet"), "port")));

        var cpus = int.Parse(Scalar(Map(container, "resources", "limits"), "cpu"));
        Assert.Equal(cpus, int.Parse(environment["Cluster__MinWorkers"]));
        Assert.Equal(cpus, int.Parse(environment["Cluster__MaxWorkers"]));
        Assert.Equal("http", Scalar((YamlMappingNode)((YamlSequenceNode)Map(documents[1], "spec")["ports"]).Children.Single(), "targetPort"));
    }

    private static List<YamlMappingNode> Load(string name)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(Path.Combine(TestCluster.RepositoryRoot, "deploy", "kubernetes", name));
        stream.Load(reader);
        return stream.Documents.Select(document => (YamlMappingNode)document.RootNode).ToList();
    }

    private static YamlMappingNode Map(YamlMappingNode node, params string[] path) =>
        path.Aggregate(node, (current, key) => (YamlMappingNode)current[key]);

    private static string Scalar(YamlMappingNode node, string key) => ((YamlScalarNode)node[key]).Value!;
}
