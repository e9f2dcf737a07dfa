namespace ProcessCluster.TestApp;

/// <summary>
/// Every process of this app, primary or worker, leaves its pid as an empty file in the directory named by
/// TESTAPP_PID_DIRECTORY, first thing at start: the tests learn of every process a cluster ever started (to count
/// forks, and to kill what is left in teardown) without reading the cluster's log.
/// </summary>
internal static class StartRecord
{
    public const string DirectoryVariable = "TESTAPP_PID_DIRECTORY";

    public static void Write()
    {
        if (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } directory)
        {
            File.WriteAllBytes(Path.Combine(directory, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)), []);
        }
    }
}
