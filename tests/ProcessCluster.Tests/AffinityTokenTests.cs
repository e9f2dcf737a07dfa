using System.Text;
using ProcessCluster.Distribution;

namespace ProcessCluster.Tests;

/// <summary>The worker a request line names: the pure route the primary applies to the bytes it peeks at.</summary>
public class AffinityTokenTests
{
    [Theory]
    [InlineData("GET /hub?id=w3.AbC-_9 HTTP/1.1\r\nHost: x\r\n", 3)]
    [InlineData("POST /chat?id=w12.Zz HTTP/1.1\r\n", 12)]
    [InlineData("GET /hub?access=1&id=w2.tok&x=y HTTP/1.1\r\n", 2)]
    [InlineData("GET /hub?id=w5.partial-line-without-end", 5)]
    [InlineData("GET /hub?id=w5.tok", 5)]
    public void A_token_with_a_worker_prefix_routes_to_that_worker(string request, int worker) =>
        Assert.Equal(worker, AffinityToken.Route(Encoding.ASCII.GetBytes(request)));

    [Theory]
    [InlineData("POST /hub/negotiate?negotiateVersion=1 HTTP/1.1\r\n")]
    [InlineData("GET /hub?id=AbCdEf HTTP/1.1\r\n")]
    [InlineData("GET /hub?id=w.tok HTTP/1.1\r\n")]
    [InlineData("GET /hub?id=wx3.tok HTTP/1.1\r\n")]
    [InlineData("GET /hub?id=w0.tok HTTP/1.1\r\n")]
    [InlineData("GET /hub?id=w12345678901.tok HTTP/1.1\r\n")]
    [InlineData("GET /hub?xid=w3.tok HTTP/1.1\r\n")]
    [InlineData("GET /hub HTTP/1.1\r\nX: ?id=w3.tok\r\n")]
    [InlineData("\u0016\u0003\u0001\u0002\u0000\u0001")]
    [InlineData("")]
    public void Anything_else_routes_nowhere(string request) =>
        Assert.Null(AffinityToken.Route(Encoding.ASCII.GetBytes(request)));

    [Fact]
    public void An_issued_token_reads_back_and_one_without_the_prefix_does_not()
    {
        var issued = AffinityToken.Issue(4, "AbC-_9");
        Assert.Equal((4, "AbC-_9"), AffinityToken.Read(issued));
        Assert.Equal(4, AffinityToken.Route(Encoding.ASCII.GetBytes($"GET /h?id={issued} HTTP/1.1\r\n")));
        Assert.Null(AffinityToken.Read("AbC-_9"));
        Assert.Null(AffinityToken.Read("w-1.x"));
    }
}
