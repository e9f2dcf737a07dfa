using Microsoft.Extensions.Configuration;

namespace ProcessCluster.Cli;

/// <summary>
/// The http_ports and https_ports settings (ASPNETCORE_HTTP_PORTS, HTTPS_PORTS, ...; the defaults of Microsoft's
/// container images) as ASP.NET Core's host turns them into URLs when no URL is set: each port on every address.
/// </summary>
internal static class PortSettings
{
    /// <summary>The URLs the settings make, ';'-separated; null when neither is set.</summary>
    public static string? Urls(IConfiguration configuration)
    {
        var urls = Expand(configuration["http_ports"] ?? configuration["ASPNETCORE_HTTP_PORTS"], "http")
            .Concat(Expand(configuration["https_ports"] ?? configuration["ASPNETCORE_HTTPS_PORTS"], "https"))
            .ToList();
        return urls.Count > 0 ? string.Join(';', urls) : null;
    }

    private static IEnumerable<string> Expand(string? ports, string scheme) =>
        (ports ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(port => $"{scheme}://*:{port}");
}
