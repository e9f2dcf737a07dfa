namespace ProcessCluster.TestApp;

/// <summary>Faults on demand, for the cluster's own tests and benchmarks: a hung worker, a leaking one, a bad deploy.</summary>
internal static class Faults
{
    private static readonly List<byte[]> Leaked = [];

    /// <summary>This process's health check fails from now on (/health/fail).</summary>
    public static volatile bool Sick;

    /// <summary>
    /// Blocks the thread pool for good, as a deadlocked or starved app would: many work items that never return, queued
    /// ahead of everything else, so the pool never gets to the worker's heartbeat again.
    /// </summary>
    public static void StarveThreadPool()
    {
        for (var i = 0; i < 10_000; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_ => Thread.Sleep(Timeout.Infinite), null);
        }
    }

    /// <summary>Allocates and keeps <paramref name="megabytes"/> MiB, written to so that it is resident.</summary>
    public static long Leak(int megabytes)
    {
        lock (Leaked)
        {
            for (var i = 0; i < megabytes; i++)
            {
                var block = new byte[1024 * 1024];
                Array.Fill(block, (byte)1);
                Leaked.Add(block);
            }

            return Leaked.Count;
        }
    }

    /// <summary>
    /// The "release" this process serves, read once at start from the file named by SEED_RELEASE_FILE (a relative path
    /// from the working directory), so that a test can deploy a new one and reload. Like a bad deploy, a release named
    /// "broken" fails at start, and one named "silent" never starts listening.
    /// </summary>
    public static string ReadRelease()
    {
        var path = Environment.GetEnvironmentVariable("SEED_RELEASE_FILE");
        var release = path is null ? "none" : File.ReadAllText(path).Trim();
        switch (release)
        {
            case "broken":
                throw new InvalidOperationException("release 'broken' cannot start");
            case "silent":
                Thread.Sleep(Timeout.Infinite);
                break;
        }

        return release;
    }
}
