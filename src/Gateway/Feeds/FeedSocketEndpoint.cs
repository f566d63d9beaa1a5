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
        if (TryAdmit(out var retryAfter, out var refusal))
        {
            await ServeAsync(context);
            return;
        }

        context.Response.Headers.RetryAfter = RetryAfterSeconds(retryAfter).ToString(CultureInfo.InvariantCulture);
        await Problems.Unavailable(refusal).ExecuteAsync(context);
    }

    /// <summary>Admission: false (with the delay to announce) for a draining node or a spent upgrade budget.</summary>
    internal bool TryAdmit(out TimeSpan retryAfter, out string refusal)
    {
        if (node.Draining)
        {
            retryAfter = TimeSpan.FromSeconds(1);
            refusal = "This gateway node is shutting down; connect to another one.";
            return false;
        }

        if (!node.Upgrades.TryTake(out retryAfter))
        {
            LogOverloaded(logger, retryAfter);
            refusal = "This gateway node is admitting connections at its limit; retry after the Retry-After delay, with jitter.";
            return false;
        }

        refusal = "";
        return true;
    }

    internal static int RetryAfterSeconds(TimeSpan retryAfter) => Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));

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
        await RunSessionAsync(new WebSocketFeedTransport(socket), close);
    }

    /// <summary>
    /// One connection's protocol session, whatever the transport: hello, the writer loop, the receive
    /// loop, and at the end the close frame (after the writer stopped, so that sends never overlap).
    /// </summary>
    internal async Task RunSessionAsync(FeedTransport transport, CancellationTokenSource close)
    {
        var connection = new FeedConnection(transport, _settings, close);
        if (transport is DirectFeedTransport direct)
        {
            direct.Connection = connection;
        }

        node.Add(connection);
        connection.Enqueue(OutMessage.Control(
            new HelloMessage("hello", FeedSocketEndpoint.Protocol, node.NodeId, (int)_settings.HeartbeatInterval.TotalMilliseconds,
                node.RetryWindowMs, node.GatewayUrls),
            FeedJsonContext.Default.HelloMessage));

        var writer = connection.RunWriterAsync(close.Token);
        var closeCode = 0;
        string? closeReason = null;
        try
        {
            // The receive loop, inline: one state machine fewer per connection.
            var max = _settings.MaxClientMessageBytes;
            while (closeCode == 0)
            {
                var read = await transport.ReceiveAsync(max, close.Token);
                if (read.Kind == ClientReadKind.TooBig)
                {
                    (closeCode, closeReason) = ((int)WebSocketCloseStatus.MessageTooBig, $"messages are limited to {max} bytes");
                }
                else if (read.Kind == ClientReadKind.ProtocolError)
                {
                    (closeCode, closeReason) = ((int)WebSocketCloseStatus.ProtocolError, "WebSocket protocol error");
                }
                else if (read.Kind == ClientReadKind.InvalidPayload)
                {
                    (closeCode, closeReason) = ((int)WebSocketCloseStatus.InvalidPayloadData, "text must be valid UTF-8");
                }
                else if (read.Kind == ClientReadKind.Closed || connection.TooSlow)
                {
                    break;
                }
                else if (Parse(read, connection) is { } message)
                {
                    await HandleAsync(message, connection);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or System.Net.Sockets.SocketException
            or Microsoft.AspNetCore.Connections.ConnectionResetException)
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
            await Quietly(writer.WaitAsync(TimeSpan.FromSeconds(2)));
            if (!writer.IsCompleted)
            {
                // Stuck in a send to a client that does not read.
                transport.Abort();
                await Quietly(writer);
            }
            else
            {
                if (closeCode == 0 && connection.TooSlow)
                {
                    (closeCode, closeReason) = (CloseCodes.SlowConsumer, "slow consumer");
                }

                if (closeCode == 0)
                {
                    (closeCode, closeReason) = node.Draining ? (CloseCodes.GoingAway, "drain") : ((int)WebSocketCloseStatus.NormalClosure, null);
                }

                await Quietly(transport.CloseAsync(closeCode, closeReason, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2)));
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

    private static ClientMessage? Parse(ClientRead read, FeedConnection connection)
    {
        try
        {
            return JsonSerializer.Deserialize(read.Payload.AsSpan(0, read.Length), FeedJsonContext.Default.ClientMessage)
                ?? new ClientMessage();
        }
        catch (JsonException ex)
        {
            Error(connection, null, "bad-message", $"Not a JSON message of the protocol: {ex.Message}");
            return null;
        }
    }

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
