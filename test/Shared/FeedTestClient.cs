using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tprcs.Tests.Support;

/// <summary>A bare protocol client for tests: sends JSON, awaits the next message matching a predicate, always with a timeout.</summary>
public sealed class FeedTestClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly List<JsonObject> _received = [];

    public IReadOnlyList<JsonObject> Received => _received;

    public static async Task<FeedTestClient> ConnectAsync(Uri uri)
    {
        var client = new FeedTestClient();
        client._socket.Options.AddSubProtocol("tprcs.v1");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client._socket.ConnectAsync(uri, cts.Token);
        return client;
    }

    public WebSocketState State => _socket.State;

    public Task SendAsync(object message) =>
        _socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task SubscribeAsync(string feed, string? epoch = null, long? seq = null) =>
        SendAsync(epoch is null
            ? new { type = "subscribe", feed }
            : new { type = "subscribe", feed, resume = new { epoch, seq } });

    /// <summary>The next message for which <paramref name="match"/> holds; fails naming <paramref name="what"/> after the timeout.</summary>
    public async Task<JsonObject> NextAsync(Func<JsonObject, bool> match, string what, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        try
        {
            while (true)
            {
                var message = await ReceiveAsync(cts.Token);
                if (message is null)
                {
                    throw new Xunit.Sdk.XunitException($"The socket closed ({_socket.CloseStatus}) before {what}.");
                }

                _received.Add(message);
                if (match(message))
                {
                    return message;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"Timed out after {(timeout ?? TimeSpan.FromSeconds(20)).TotalSeconds} s waiting for {what}.");
        }
    }

    public Task<JsonObject> NextOfTypeAsync(string type, string? feed = null, TimeSpan? timeout = null) =>
        NextAsync(m => (string?)m["type"] == type && (feed is null || (string?)m["feed"] == feed),
            $"a '{type}' message{(feed is null ? "" : $" for {feed}")}", timeout);

    private async Task<JsonObject?> ReceiveAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            ms.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return JsonNode.Parse(Encoding.UTF8.GetString(ms.ToArray()))!.AsObject();
            }
        }
    }

    /// <summary>Drops the connection without a close handshake, as a network failure would.</summary>
    public void Abort() => _socket.Abort();

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // Already gone.
            }
        }

        _socket.Dispose();
    }
}
