using Grpc.Core;

namespace ProcessCluster.GrpcApp;

/// <summary>Answers with the serving process's pid, so the tests see which worker each call and stream reached.</summary>
internal sealed class WorkerInfoService : WorkerInfo.WorkerInfoBase
{
    private static readonly int Pid = Environment.ProcessId;

    public override Task<WhoReply> Who(WhoRequest request, ServerCallContext context) => Task.FromResult(new WhoReply { Pid = Pid });

    public override async Task Ticks(TicksRequest request, IServerStreamWriter<TickReply> responseStream, ServerCallContext context)
    {
        for (var index = 0; index < request.Count; index++)
        {
            if (index > 0)
            {
                await Task.Delay(request.IntervalMs, context.CancellationToken);
            }

            await responseStream.WriteAsync(new TickReply { Index = index, Pid = Pid }, context.CancellationToken);
        }
    }

    public override async Task Echo(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        await foreach (var message in requestStream.ReadAllAsync(context.CancellationToken))
        {
            await responseStream.WriteAsync(new EchoReply { Text = message.Text, Pid = Pid }, context.CancellationToken);
        }
    }
}
