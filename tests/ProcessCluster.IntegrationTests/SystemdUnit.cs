namespace ProcessCluster.IntegrationTests;

/// <summary>A systemd unit file from deploy/systemd, read as systemd reads its settings: Key=Value lines, repeatable keys.</summary>
internal sealed class SystemdUnit
{
    private readonly List<(string Key, string Value)> _settings;

    private SystemdUnit(List<(string Key, string Value)> settings) => _settings = settings;

    public static SystemdUnit Read(string name) => new(
        File.ReadAllLines(Path.Combine(TestCluster.RepositoryRoot, "deploy", "systemd", name))
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && line[0] is not ('#' or ';' or '['))
            .Select(line => (line[..line.IndexOf('=')], line[(line.IndexOf('=') + 1)..]))
            .ToList());

    /// <summary>The last value of a setting (systemd's rule for single-valued ones).</summary>
    public string Get(string key) => _settings.Last(setting => setting.Key == key).Value;

    /// <summary>Environment= lines as variables.</summary>
    public IEnumerable<(string Name, string Value)> Environment() =>
        _settings.Where(setting => setting.Key == "Environment").Select(setting => (setting.Value[..setting.Value.IndexOf('=')], setting.Value[(setting.Value.IndexOf('=') + 1)..]));
}
