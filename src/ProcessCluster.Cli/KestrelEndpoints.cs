using Microsoft.Extensions.Configuration;
using ProcessCluster.AspNetCore;

namespace ProcessCluster.Cli;

/// <summary>
/// The endpoints the app's Kestrel will ask for from its Kestrel:Endpoints section, read as Kestrel reads it (each
/// child's Url; Protocols, else Kestrel:EndpointDefaults:Protocols), without the binder so it stays fit for native AOT.
/// When the section names any, Kestrel binds them instead of the URLs; so does this primary, so that the workers claim
/// what it opened. Certificates are the workers' business: they terminate TLS.
/// </summary>
internal static class KestrelEndpoints
{
    /// <summary>The endpoints' URLs, in the section's order (empty when there are none).</summary>
    /// <exception cref="NotSupportedException">An HTTPS endpoint asks for HTTP/3, which the cluster cannot share.</exception>
    public static IReadOnlyList<string> Read(IConfiguration configuration)
    {
        var defaultProtocols = configuration["Kestrel:EndpointDefaults:Protocols"];
        var urls = new List<string>();
        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
        {
            if (endpoint["Url"] is not { Length: > 0 } url)
            {
                throw new FormatException($"Kestrel:Endpoints:{endpoint.Key} has no Url");
            }

            // Kestrel runs HTTP/3 only over TLS; on plain HTTP it falls back to HTTP/1.1 (or fails itself, for Http3 alone).
            var protocols = endpoint["Protocols"] ?? defaultProtocols ?? "";
            if (url.StartsWith("https:", StringComparison.OrdinalIgnoreCase) && protocols.Contains("Http3", StringComparison.OrdinalIgnoreCase))
            {
                throw new NotSupportedException(Http3Refusal.Refused(url));
            }

            urls.Add(url);
        }

        return urls;
    }
}
