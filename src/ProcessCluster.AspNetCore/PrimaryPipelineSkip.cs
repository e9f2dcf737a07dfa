using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace ProcessCluster.AspNetCore;

/// <summary>
/// The primary serves no request: its Kestrel only opens the sockets (<see cref="PrimaryTransport"/>), and the workers
/// run the app. So the app's middleware and endpoints are never composed here. Registered after the host's own startup
/// filters, this one is the outermost and does not call the rest: routing, the endpoint table and whatever the app's
/// middleware would load stay out of the primary's memory.
/// </summary>
internal sealed class PrimaryPipelineSkip : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => _ => { };
}
