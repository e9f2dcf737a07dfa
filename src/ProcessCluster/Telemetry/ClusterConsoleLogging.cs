using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace ProcessCluster.Telemetry;

internal static class ClusterConsoleLogging
{
    /// <summary>
    /// The primary's own log as JSON lines (Cluster:LogFormat=Json), with UTC timestamps and escaping as in the
    /// worker lines it relays, so one parser reads both.
    /// </summary>
    public static ILoggingBuilder AddClusterJsonConsole(this ILoggingBuilder logging) =>
        logging.AddJsonConsole(json =>
        {
            json.UseUtcTimestamp = true;
            json.TimestampFormat = "O";
            json.JsonWriterOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        });
}
