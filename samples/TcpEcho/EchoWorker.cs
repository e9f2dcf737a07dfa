using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using ProcessCluster;
using ProcessCluster.Worker;

namespace TcpEcho;

/// <summary>
/// A worker: takes the cluster's endpoints, serves the connections it gets, and reports ready. Asked to stop (by the
/// primary for a reload, a scale-down or a stop; or by SIGTERM), it stops taking connections, lets each client have
/// the answer to its next line, and exits once they are all closed or the drain timeout is near.
/// </summary>
internal static class EchoWorker
{
    public static async Task<int> RunAsync(ClusterOptions options, IReadOnlyList<ClusterEndpoint> endpoints, ILogger logger)
    {
        var worker = ClusterWorker.Connect(options, logger);
        var listeners = endpoints.Select(endpoint => worker.Listen(endpoint.EndPoint)).ToList();
        var server = new EchoServer();
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        worker.DisconnectRequested += (_, _) => stopping.TrySetResult();
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stopping.TrySetResult();
        });

        var accepting = listeners.Select(server.AcceptAllAsync).ToList();
        worker.ReportListening(listeners.Select(listener => $"tcp://{listener.LocalEndPoint}").ToList());
        logger.LogInformation("Worker {Id} (pid {Pid}) echoing on {Endpoints}", worker.Id, Environment.ProcessId, string.Join(", ", listeners.Select(listener => listener.LocalEndPoint)));

        await stopping.Task;
        worker.ReportStopping();
        // A margin before the primary's SIGKILL at the drain timeout, to close what is left in order.
        server.BeginDrain(options.DrainTimeout * 0.8);
        listeners.ForEach(listener => listener.Stop());
        await Task.WhenAll(accepting);
        await server.WhenAllClosedAsync();
        listeners.ForEach(listener => listener.Dispose());
        return 0;
    }
}
