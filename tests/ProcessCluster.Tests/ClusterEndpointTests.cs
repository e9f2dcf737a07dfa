using System.Net;
using System.Net.Sockets;

namespace ProcessCluster.Tests;

public class ClusterEndpointTests
{
    [Theory]
    [InlineData("http://127.0.0.1:3000", "127.0.0.1", 3000)]
    [InlineData("http://0.0.0.0:0", "0.0.0.0", 0)]
    [InlineData("http://*:8080", "::", 8080)]
    [InlineData("http://+:8080/", "::", 8080)]
    [InlineData("http://example.internal:81", "::", 81)]
    [InlineData("http://[::1]:5000", "::1", 5000)]
    [InlineData("https://10.1.2.3", "10.1.2.3", 443)]
    public void Parses_urls_as_kestrel_binds_them(string url, string address, int port)
    {
        var endpoint = Assert.Single(ClusterEndpoint.Parse(url));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), endpoint.EndPoint);
    }

    [Fact]
    public void Localhost_is_both_loopbacks_and_lists_split_on_semicolons()
    {
        var endpoints = ClusterEndpoint.ParseUrls(["http://localhost:3000;http://127.0.0.1:0"]);
        Assert.Equal(["127.0.0.1:3000", "[::1]:3000", "127.0.0.1:0"], endpoints.Select(endpoint => endpoint.EndPoint.ToString()));
    }

    [Theory]
    [InlineData("http://unix:/run/app.sock", "/run/app.sock")]
    [InlineData("http://unix:/run/app.sock:/base", "/run/app.sock")]
    [InlineData("https://UNIX:relative.sock", "relative.sock")]
    public void Parses_unix_socket_urls_as_kestrel_does(string url, string path)
    {
        var endpoint = Assert.Single(ClusterEndpoint.Parse(url));
        Assert.Equal(path, Assert.IsType<UnixDomainSocketEndPoint>(endpoint.EndPoint).ToString());
        Assert.Equal($"{url[..url.IndexOf(':', StringComparison.Ordinal)]}://unix:{path}", endpoint.ToUrl(endpoint.EndPoint));
    }

    [Fact]
    public void A_bound_endpoint_reads_as_a_url_with_its_real_port()
    {
        var endpoint = Assert.Single(ClusterEndpoint.Parse("https://*:0"));
        Assert.Equal("https://+:41000", endpoint.ToUrl(new IPEndPoint(IPAddress.IPv6Any, 41000)));
        Assert.Equal("https://[::1]:41000", endpoint.ToUrl(new IPEndPoint(IPAddress.IPv6Loopback, 41000)));
    }

    [Theory]
    [InlineData("http://unix:")]
    [InlineData("127.0.0.1:3000")]
    [InlineData("http://127.0.0.1:99999")]
    [InlineData("http://127.0.0.1:port")]
    public void Rejects_what_is_not_a_url(string url)
    {
        Assert.Throws<FormatException>(() => ClusterEndpoint.Parse(url).ToList());
    }
}
