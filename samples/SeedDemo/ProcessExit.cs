namespace SeedDemo;

/// <summary>
/// Node's process.exit(code) after res.send(), done the .NET way: the host stops gracefully, so this answer and any
/// other in flight are sent, then the process exits with <paramref name="code"/>. (Environment.Exit would not wait
/// for Kestrel to flush the answer.)
/// </summary>
internal static class ProcessExit
{
    public static void AfterResponse(HttpContext context, int code)
    {
        Environment.ExitCode = code;
        context.RequestServices.GetRequiredService<IHostApplicationLifetime>().StopApplication();
    }
}
