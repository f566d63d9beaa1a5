using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Tprcs.Gateway.Api;

namespace Tprcs.Gateway.Feeds;

/// <summary>The observers' WebSocket at <c>/ws</c> (protocol <c>tprcs.v1</c>, docs/protocol.md).</summary>
public static class FeedSocketEndpoint
{
    public const string Protocol = "tprcs.v1";

    public static IEndpointRouteBuilder MapTprcsFeeds(this IEndpointRouteBuilder app)
    {
        app.Map("/ws", (RequestDelegate)(context => context.RequestServices.GetRequiredService<FeedSocketHandler>().HandleAsync(context)));
        return app;
    }
}

/// <summary>One WebSocket's life: admission, hello, the receive loop, the writer loop and heartbeats.</summary>
public sealed partial class FeedSocketHandler(
    FeedHub hub,
    GatewayNodeState node,
    IOptions<FeedGatewayOptions> options,
    TimeProvider time,
    ILogger<FeedSocketHandler> logger)
{
    private readonly FeedGatewayOptions _settings = options.Value;

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "WebSocket required",
                detail: $"Connect with a WebSocket upgrade and subprotocol '{FeedSocketEndpoint.Protocol}'.").ExecuteAsync(context);
            return;
        }

        // Refused before the upgrade costs anything: a draining node, or an exhausted budget.
        TimeSpan retryAfter;
        if (node.Draining)
        {
            retryAfter = TimeSpan.FromSeconds(1);
        }
        else if (!node.Upgrades.TryTake(out retryAfter))
        {
            LogOverloaded(logger, retryAfter);
        }
        else
        {
            await ServeAsync(context);
            return;
        }

        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        await Problems.Unavailable(node.Draining
            ? "This gateway node is shutting down; connect to another one."
            : "This gateway node is admitting connections at its limit; retry after the Retry-After delay, with jitter.").ExecuteAsync(context);
    }

    private async Task ServeAsync(HttpContext context)
    {
        var requested = context.WebSockets.WebSocketRequestedProtocols;
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = requested.Contains(FeedSocketEndpoint.Protocol) ? FeedSocketEndpoint.Protocol : null,
            KeepAliveInterval = _settings.KeepAliveInterval,
            KeepAliveTimeout = _settings.KeepAliveTimeout,
        });
        using var close = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var connection = new FeedConnection(socket, _settings, close);
        node.Add(connection, close);
        connection.Enqueue(OutMessage.Control(
            new HelloMessage("hello", FeedSocketEndpoint.Protocol, node.NodeId, (int)_settings.HeartbeatInterval.TotalMilliseconds,
                node.RetryWindowMs, node.GatewayUrls),
            FeedJsonContext.Default.HelloMessage));

        var writer = connection.RunWriterAsync(close.Token);
        try
        {
            await ReceiveAsync(socket, connection, close.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // The client went away, or the node closed it at the end of a drain.
        }
        finally
        {
            node.Remove(connection);
            foreach (var feed in connection.TrackedFeeds())
            {
                feed.Detach(connection, time.GetUtcNow());
            }

            await close.CancelAsync();
            await Quietly(writer);
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await Quietly(socket.CloseOutputAsync(
                    node.Draining ? WebSocketCloseStatus.EndpointUnavailable : WebSocketCloseStatus.NormalClosure,
                    node.Draining ? "drain" : null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2)));
            }
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch
        {
            // Ending anyway; the error was the reason or is of no use now.
        }
    }

    /// <summary>
    /// Client messages are small (a subscribe is about 100 bytes), so an idle connection waits with
    /// a small buffer of its own and borrows a large one only for a message that does not fit.
    /// </summary>
    private async Task ReceiveAsync(WebSocket socket, FeedConnection connection, CancellationToken cancellationToken)
    {
        var max = _settings.MaxClientMessageBytes;
        var small = new byte[Math.Min(SmallReceiveBuffer, max)];
        while (true)
        {
            var buffer = small;
            byte[]? rented = null;
            try
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length >= max || length == buffer.Length)
                    {
                        if (length >= max || buffer.Length >= max)
                        {
                            await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, $"messages are limited to {max} bytes", cancellationToken);
                            return;
                        }

                        rented = ArrayPool<byte>.Shared.Rent(max);
                        buffer.AsSpan(0, length).CopyTo(rented);
                        buffer = rented;
                    }

                    result = await socket.ReceiveAsync(buffer.AsMemory(length, Math.Min(buffer.Length, max) - length), cancellationToken);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close || connection.TooSlow)
                {
                    return;
                }

                ClientMessage? message;
                try
                {
                    message = JsonSerializer.Deserialize(buffer.AsSpan(0, length), FeedJsonContext.Default.ClientMessage);
                }
                catch (JsonException ex)
                {
                    Error(connection, null, "bad-message", $"Not a JSON message of the protocol: {ex.Message}");
                    continue;
                }

                await HandleAsync(message, connection);
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }
    }

    private const int SmallReceiveBuffer = 256;

    private async Task HandleAsync(ClientMessage? message, FeedConnection connection)
    {
        switch (message?.Type)
        {
            case "subscribe" when !string.IsNullOrEmpty(message.Feed):
                await SubscribeAsync(message.Feed, message.Resume, connection);
                return;
            case "unsubscribe" when !string.IsNullOrEmpty(message.Feed):
                connection.Untrack(message.Feed)?.Detach(connection, time.GetUtcNow());
                connection.Enqueue(OutMessage.Control(new UnsubscribedMessage("unsubscribed", message.Feed), FeedJsonContext.Default.UnsubscribedMessage));
                return;
            case "ping":
                connection.Enqueue(OutMessage.Control(new HeartbeatMessage("pong", time.GetUtcNow().ToUnixTimeMilliseconds()), FeedJsonContext.Default.HeartbeatMessage));
                return;
            default:
                Error(connection, message?.Feed, "bad-message", "Expected {\"type\":\"subscribe\"|\"unsubscribe\"|\"ping\", \"feed\":\"{election}/{area}\"}.");
                return;
        }
    }

    private async Task SubscribeAsync(string key, ResumePosition? resume, FeedConnection connection)
    {
        if (!connection.IsWatching(key) && connection.FeedCount >= _settings.MaxFeedsPerConnection)
        {
            Error(connection, key, "too-many-feeds", $"A connection may watch at most {_settings.MaxFeedsPerConnection} feeds.");
            return;
        }

        if (!node.Subscriptions.TryTake(out var retryAfter))
        {
            Error(connection, key, "overloaded", "This node is admitting subscriptions at its limit; subscribe again after retryAfterMs.",
                (int)Math.Ceiling(retryAfter.TotalMilliseconds * (1 + Random.Shared.NextDouble())));
            return;
        }

        // A feed retired by the idle sweep between acquiring and attaching is replaced by a fresh one.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            Feed? feed;
            try
            {
                feed = await hub.AcquireAsync(key);
            }
            catch (Exception ex)
            {
                LogSubscribeFailed(logger, ex, key);
                Error(connection, key, "unavailable", "The feed cannot be opened right now; subscribe again later.", 1_000);
                return;
            }

            if (feed is null)
            {
                Error(connection, key, "unknown-feed", $"'{key}' is not an area of a loaded election (feeds are \"{{election}}/{{area}}\").");
                return;
            }

            if (await feed.AttachAsync(connection, resume?.Epoch, resume?.Seq))
            {
                return;
            }

            await Task.Yield();
        }

        Error(connection, key, "unavailable", "The feed cannot be opened right now; subscribe again later.", 1_000);
    }

    private static void Error(FeedConnection connection, string? feed, string code, string text, int? retryAfterMs = null) =>
        connection.Enqueue(OutMessage.Control(new ErrorMessage("error", feed, code, text, retryAfterMs), FeedJsonContext.Default.ErrorMessage));

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "Subscribing to {Feed} failed")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception, string feed);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Debug, Message = "Upgrade refused: admission budget spent; retry after {RetryAfter}")]
    private static partial void LogOverloaded(ILogger logger, TimeSpan retryAfter);
}
