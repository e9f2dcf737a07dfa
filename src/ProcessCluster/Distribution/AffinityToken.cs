using System.Buffers.Text;

namespace ProcessCluster.Distribution;

/// <summary>
/// A connection token that names the worker that issued it: "w" + worker id + "." + the token SignalR made. Tokens
/// SignalR makes are base64url (no "."), so the prefix is never ambiguous. The primary reads it from the request line
/// (<see cref="Route"/>); the worker adds it to what it issues and strips it before SignalR sees the request.
/// </summary>
internal static class AffinityToken
{
    /// <summary>The query parameter SignalR's clients send the token in.</summary>
    public const string Parameter = "id";

    /// <summary>Ids beyond this many digits are not worker ids.</summary>
    private const int MaxDigits = 9;

    public static string Issue(int workerId, string token) => $"w{workerId}.{token}";

    /// <summary>The worker id and the token as SignalR issued it; null for a token without the prefix.</summary>
    public static (int WorkerId, string Token)? Read(string value)
    {
        var dot = value.IndexOf('.', StringComparison.Ordinal);
        return dot is > 1 and <= MaxDigits + 1 && value[0] == 'w' && int.TryParse(value.AsSpan(1, dot - 1), System.Globalization.NumberStyles.None, null, out var id)
            ? (id, value[(dot + 1)..])
            : null;
    }

    /// <summary>
    /// The worker a request names in its request line's <c>id</c> query parameter (the start of the bytes a new
    /// connection sent); null when there is none or the start is not an HTTP/1 request line.
    /// </summary>
    public static int? Route(ReadOnlySpan<byte> requestStart)
    {
        var end = requestStart.IndexOfAny((byte)'\r', (byte)'\n');
        var line = end < 0 ? requestStart : requestStart[..end];
        var space = line.IndexOf((byte)' ');
        if (space <= 0)
        {
            return null;
        }

        var target = line[(space + 1)..];
        var targetEnd = target.IndexOf((byte)' ');
        target = targetEnd < 0 ? target : target[..targetEnd];
        var query = target.IndexOf((byte)'?');
        if (query < 0)
        {
            return null;
        }

        foreach (var range in target[(query + 1)..].Split((byte)'&'))
        {
            var pair = target[(query + 1)..][range];
            if (pair.Length > Parameter.Length && pair.StartsWith("id="u8))
            {
                return WorkerOf(pair[3..]);
            }
        }

        return null;
    }

    private static int? WorkerOf(ReadOnlySpan<byte> token)
    {
        var dot = token.IndexOf((byte)'.');
        return dot is > 1 and <= MaxDigits + 1 && token[0] == (byte)'w' && token[1..dot].IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0
            && Utf8Parser.TryParse(token[1..dot], out int id, out _) && id > 0
            ? id
            : null;
    }
}
