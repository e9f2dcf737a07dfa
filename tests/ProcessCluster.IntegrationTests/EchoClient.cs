using System.Net.Sockets;
using System.Text;

namespace ProcessCluster.IntegrationTests;

/// <summary>A client of samples/TcpEcho's line protocol on one TCP connection: each line comes back as "PID: line".</summary>
public sealed class EchoClient : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly TcpClient _client;
    private readonly StreamReader _reader;
    private readonly StreamWriter _writer;

    private EchoClient(TcpClient client)
    {
        _client = client;
        var stream = client.GetStream();
        _reader = new StreamReader(stream, Encoding.UTF8);
        _writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n", AutoFlush = true };
    }

    public static async Task<EchoClient> ConnectAsync(Uri address)
    {
        var client = new TcpClient();
        try
        {
            using var timeout = new CancellationTokenSource(Timeout);
            await client.ConnectAsync(address.Host, address.Port, timeout.Token);
            return new EchoClient(client);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="line"/>; returns the pid of the worker that echoed it.</summary>
    public async Task<int> EchoAsync(string line)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await _writer.WriteLineAsync(line.AsMemory(), timeout.Token);
        var answer = await _reader.ReadLineAsync(timeout.Token) ?? throw new IOException($"the connection closed before the echo of '{line}'");
        var separator = answer.IndexOf(": ", StringComparison.Ordinal);
        Assert.True(separator > 0, $"not an echo: '{answer}'");
        Assert.Equal(line, answer[(separator + 2)..]);
        return int.Parse(answer[..separator]);
    }

    /// <summary>One line on a new connection; the pid that echoed it.</summary>
    public static async Task<int> EchoOnceAsync(Uri address, string line)
    {
        using var client = await ConnectAsync(address);
        return await client.EchoAsync(line);
    }

    public void Dispose() => _client.Dispose();
}
