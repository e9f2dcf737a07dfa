using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using ProcessCluster.Primary;

namespace ProcessCluster.TestApp;

/// <summary>
/// The primary's side of the hostile "stop-reading-messages" worker: a worker that asks for {"flood": n} is sent n
/// messages of 64 KiB from the app's message handler, which runs on the supervisor loop's thread, as an app that
/// answers or broadcasts would. A send that fails is counted and the next one tried, as an app would go on.
/// </summary>
internal static class MessageFlood
{
    public const string Property = "flood";

    private static readonly string Filler = new('f', 64 * 1024);

    public static void SendIfAsked(WorkerMessageEventArgs e, ILogger logger)
    {
        if (e.Message.ValueKind != JsonValueKind.Object || !e.Message.TryGetProperty(Property, out var asked) || !asked.TryGetInt32(out var count))
        {
            return;
        }

        var clock = Stopwatch.StartNew();
        var failed = 0;
        for (var i = 0; i < count; i++)
        {
            try
            {
                e.Worker.Send(new { filler = Filler });
            }
            catch (Exception error) when (error is InvalidOperationException or Win32Exception)
            {
                failed++;
            }
        }

        logger.LogWarning("Sent worker {Id} {Count} messages in {Seconds:0.0} s; {Failed} failed", e.Worker.Id, count, clock.Elapsed.TotalSeconds, failed);
    }
}
