namespace SeedDemo;

/// <summary>Node's process.exit(code) after res.send(): the answer goes out, then the process ends.</summary>
internal static class ProcessExit
{
    public static void AfterResponse(HttpContext context, int code) =>
        context.Response.OnCompleted(() =>
        {
            // Off the request thread: Environment.Exit waits for the host to stop, which waits for this request.
            _ = Task.Run(() => Environment.Exit(code));
            return Task.CompletedTask;
        });
}
