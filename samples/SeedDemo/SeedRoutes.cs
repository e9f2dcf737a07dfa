namespace SeedDemo;

/// <summary>The seed's routes, plus a light one; the tests' app serves the same (it links this file).</summary>
internal static class SeedRoutes
{
    public static void MapSeedRoutes(this IEndpointRouteBuilder app)
    {
        var pid = Environment.ProcessId;
        app.MapGet("/", () =>
        {
            CpuWork.Run();
            return $"response from: {pid}";
        });

        app.MapGet("/kill-process", (HttpContext context) =>
        {
            ProcessExit.AfterResponse(context, 0);
            return $"process: {pid} died";
        });

        // Not in the seed: a light route, for trying the cluster by hand and for the benchmarks' throughput figures.
        app.MapGet("/hello", () => $"hello from {pid}");
    }
}
