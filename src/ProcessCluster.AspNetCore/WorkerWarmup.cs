using System.Diagnostics;
using Microsoft.Extensions.Logging;
using ProcessCluster.Worker;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// A new worker's request to itself before it reports ready (Cluster:WarmupPath), through <see cref="SelfRequest"/>, so
/// the code on that path is compiled before the first client arrives. A failed warm-up is logged and the worker goes
/// on; it is an optimisation.
/// </summary>
internal static class WorkerWarmup
{
    public static async Task RunAsync(ConnectionInbox inbox, string path, TimeSpan timeout, ILogger logger, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var (status, statusLine) = await SelfRequest.GetAsync(inbox, path, timeout, cancellationToken).ConfigureAwait(false);
            if (status is >= 200 and < 300)
            {
                logger.LogInformation("Warm-up GET {Path}: {Status} in {Elapsed} ms", path, status, clock.ElapsedMilliseconds);
            }
            else
            {
                logger.LogWarning(
                    "Warm-up GET {Path} answered {Status} in {Elapsed} ms (Cluster:WarmupPath should be a route that answers 2xx)",
                    path,
                    status > 0 ? status : statusLine,
                    clock.ElapsedMilliseconds);
            }
        }
        catch (Exception error) when (SelfRequest.IsFailure(error))
        {
            logger.LogWarning("Warm-up GET {Path} failed after {Elapsed} ms: {Reason}", path, clock.ElapsedMilliseconds, error.Message);
        }
    }
}
