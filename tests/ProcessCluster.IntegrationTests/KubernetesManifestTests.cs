using YamlDotNet.RepresentationModel;

namespace ProcessCluster.IntegrationTests;

/// <summary>
/// deploy/kubernetes validates against the Kubernetes API's schemas and KEDA's CRDs (tests/kubernetes/validate.mjs,
/// kubernetes-models from npm), and its numbers agree with each other: the grace period outlasts the preStop sleep
/// plus the drain, the probes reach the admin endpoint's health paths, the workers are fixed at the CPU limit, and the
/// HPA, the adapter's rule and KEDA name the same series and aim at the cluster's own busy target.
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

    [Fact]
    public async Task Every_manifest_validates_against_the_kubernetes_and_keda_schemas()
    {
        var validator = Path.Combine(TestCluster.RepositoryRoot, "tests", "kubernetes");
        Assert.True(
            Directory.Exists(Path.Combine(validator, "node_modules", "kubernetes-models")),
            $"the validator's packages are missing: run .ci/setup (npm ci in {validator})");
        var result = await ProcessRun.RunAsync("node", [Path.Combine(validator, "validate.mjs")], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("seeddemo.yaml: apps/v1/Deployment seeddemo: valid", result.Output, StringComparison.Ordinal);
        Assert.Contains("keda-scaledobject.yaml: keda.sh/v1alpha1/ScaledObject seeddemo: valid", result.Output, StringComparison.Ordinal);
        Assert.Contains("hpa.yaml: autoscaling/v2/HorizontalPodAutoscaler seeddemo: valid", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_hpa_the_adapter_rule_and_keda_scale_on_the_busy_series_at_the_clusters_busy_target()
    {
        var target = new ClusterOptions().ScaleTargetBusy;
        var hpa = Load("hpa.yaml").Single();
        var pods = Map((YamlMappingNode)((YamlSequenceNode)Map(hpa, "spec")["metrics"]).Children.Single(), "pods");
        var metric = Scalar(Map(pods, "metric"), "name");
        Assert.Equal($"{target * 1000:0}m", Scalar(Map(pods, "target"), "averageValue"));
        Assert.Equal("seeddemo", Scalar(Map(hpa, "spec", "scaleTargetRef"), "name"));

        var adapter = Load("prometheus-adapter.yaml")[0];
        var rules = new YamlStream();
        rules.Load(new StringReader(Scalar(Map(adapter, "data"), "config.yaml")));
        var rule = (YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)rules.Documents[0].RootNode)["rules"]).Children.Single();
        Assert.Equal(metric, Scalar(Map(rule, "name"), "as"));
        Assert.Contains("processcluster_worker_busy", Scalar(rule, "seriesQuery"), StringComparison.Ordinal);
        Assert.Contains("processcluster_workers_max", Scalar(rule, "metricsQuery"), StringComparison.Ordinal);

        var keda = Load("keda-scaledobject.yaml").Single();
        var trigger = (YamlMappingNode)((YamlSequenceNode)Map(keda, "spec")["triggers"]).Children.Single();
        Assert.Equal(target.ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar(Map(trigger, "metadata"), "threshold"));
        Assert.Contains("processcluster_worker_busy", Scalar(Map(trigger, "metadata"), "query"), StringComparison.Ordinal);
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
