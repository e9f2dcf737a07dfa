namespace ProcessCluster.IntegrationTests;

/// <summary>A test that runs a program as another user (uid 65534): it needs root, setpriv and /usr/bin/python3, and says which is missing when skipped.</summary>
public sealed class OtherUserFactAttribute : FactAttribute
{
    public const string Setpriv = "/usr/bin/setpriv";
    public const string Python = "/usr/bin/python3";

    public OtherUserFactAttribute()
    {
        if (ProcessCluster.Interop.Libc.geteuid() != 0)
        {
            Skip = "runs a client as another user: the tests must run as root";
        }
        else if (!File.Exists(Setpriv) || !File.Exists(Python))
        {
            Skip = $"runs a client as another user with {Setpriv} and {Python} (.ci/setup installs them)";
        }
    }
}
