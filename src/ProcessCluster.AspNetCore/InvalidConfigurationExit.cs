namespace ProcessCluster.AspNetCore;

/// <summary>
/// Maps settings the cluster cannot run with to <see cref="ClusterExitCodes.InvalidConfiguration"/> for an app that
/// calls UseCluster(). The options check throws out of the app's own Build() or Run() (ValidateOnStart), where no code of this
/// package can catch it, so the exception is recognised as it goes unhandled: a service manager sees exit code 2 and
/// one line naming every bad setting, not an abort with a stack trace.
/// </summary>
internal static class InvalidConfigurationExit
{
    private static int _installed;

    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0)
        {
            AppDomain.CurrentDomain.UnhandledException += (_, unhandled) =>
            {
                if (unhandled.ExceptionObject is Exception error && ClusterConfiguration.Describe(error) is { } line)
                {
                    Console.Error.WriteLine(line);
                    Environment.Exit(ClusterExitCodes.InvalidConfiguration);
                }
            };
        }
    }
}
