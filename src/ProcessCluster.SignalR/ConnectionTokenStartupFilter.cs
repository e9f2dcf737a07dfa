using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using ProcessCluster.Distribution;

namespace ProcessCluster.SignalR;

/// <summary>
/// In a worker, ahead of the app: SignalR's negotiate answers carry a connection token that names this worker
/// (<see cref="AffinityToken"/>), which the primary reads to route the connection's later requests here; those requests
/// have the name taken off again before SignalR sees them. Outside a cluster it does nothing.
/// </summary>
internal sealed class ConnectionTokenStartupFilter(BackplaneLink link) : IStartupFilter
{
    private const string Negotiate = "/negotiate";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        if (link.WorkerId > 0)
        {
            app.Use(RouteAsync);
        }

        next(app);
    };

    private async Task RouteAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (request.Query.TryGetValue(AffinityToken.Parameter, out var token) && token.Count == 1 && AffinityToken.Read(token[0]!) is { } named)
        {
            // A token that names another worker came here by round-robin (its worker is gone): SignalR does not know it
            // either way, and the client reconnects.
            var query = request.Query.ToDictionary(pair => pair.Key, pair => pair.Key == AffinityToken.Parameter ? new StringValues(named.Token) : pair.Value);
            request.QueryString = QueryString.Create(query);
        }

        if (HttpMethods.IsPost(request.Method) && request.Path.Value?.EndsWith(Negotiate, StringComparison.Ordinal) == true)
        {
            await IssueAsync(context, next).ConfigureAwait(false);
            return;
        }

        await next(context).ConfigureAwait(false);
    }

    /// <summary>Runs the negotiate request into a buffer and names this worker in the token it answers with.</summary>
    private async Task IssueAsync(HttpContext context, RequestDelegate next)
    {
        var response = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            context.Response.Body = response;
        }

        var body = buffer.ToArray();
        if (context.Response.StatusCode == StatusCodes.Status200OK && Named(body) is { } named)
        {
            body = named;
            context.Response.ContentLength = body.Length;
        }

        await response.WriteAsync(body).ConfigureAwait(false);
    }

    /// <summary>
    /// The negotiate answer with the token the client will send as <c>id</c> named: connectionToken (protocol 1), or
    /// connectionId for clients of protocol 0, which send that. Null for an answer that carries neither (an error, a redirect).
    /// </summary>
    private byte[]? Named(byte[] body)
    {
        try
        {
            if (JsonNode.Parse(body) is not JsonObject answer)
            {
                return null;
            }

            var field = answer.ContainsKey("connectionToken") ? "connectionToken" : "connectionId";
            if (answer[field]?.GetValue<string>() is not { } token)
            {
                return null;
            }

            answer[field] = AffinityToken.Issue(link.WorkerId, token);
            return JsonSerializer.SerializeToUtf8Bytes(answer, NegotiateJson.Default.JsonObject);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
