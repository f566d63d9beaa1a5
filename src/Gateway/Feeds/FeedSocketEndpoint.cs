using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Tprcs.Gateway.Feeds;

/// <summary>The observers' WebSocket at <c>/ws</c> (protocol <c>tprcs.v1</c>, docs/protocol.md).</summary>
public static partial class FeedSocketEndpoint
{
    public const string Protocol = "tprcs.v1";

    public static IEndpointRouteBuilder MapTprcsFeeds(this IEndpointRouteBuilder app)
    {
        app.Map("/ws", (RequestDelegate)(context => HandleAsync(context,
            context.RequestServices.GetRequiredService<FeedHub>(),
            context.RequestServices.GetRequiredService<IOptions<FeedGatewayOptions>>(),
            context.RequestServices.GetRequiredService<TimeProvider>(),
            context.RequestServices.GetRequiredService<ILoggerFactory>(),
            context.RequestServices.GetRequiredService<IHostApplicationLifetime>())));
        return app;
    }

    private static async Task HandleAsync(HttpContext context, FeedHub hub, IOptions<FeedGatewayOptions> options,
        TimeProvider time, ILoggerFactory loggers, IHostApplicationLifetime lifetime)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "WebSocket required",
                detail: $"Connect with a WebSocket upgrade and subprotocol '{Protocol}'.").ExecuteAsync(context);
            return;
        }

        var logger = loggers.CreateLogger("Tprcs.Gateway.Feeds.Socket");
        var requested = context.WebSockets.WebSocketRequestedProtocols;
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = requested.Contains(Protocol) ? Protocol : null,
            KeepAliveInterval = TimeSpan.FromSeconds(20),
            KeepAliveTimeout = TimeSpan.FromSeconds(20),
        });
        var settings = options.Value;
        var connection = new FeedConnection(socket, settings);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        connection.Enqueue(OutMessage.Control(
            new HelloMessage("hello", Protocol, Environment.MachineName, (int)settings.HeartbeatInterval.TotalMilliseconds),
            FeedJsonContext.Default.HelloMessage));

        var writer = connection.RunWriterAsync(stop.Token);
        var heartbeat = HeartbeatAsync(connection, settings, time, stop.Token);
        try
        {
            await ReceiveAsync(socket, connection, hub, settings, logger, stop.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // The client went away or the node is stopping: nothing to answer.
        }
        finally
        {
            foreach (var feed in connection.TrackedFeeds())
            {
                feed.Detach(connection, time.GetUtcNow());
            }

            await stop.CancelAsync();
            await Task.WhenAll(Quietly(writer), Quietly(heartbeat));
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await Quietly(socket.CloseOutputAsync(
                    lifetime.ApplicationStopping.IsCancellationRequested ? WebSocketCloseStatus.EndpointUnavailable : WebSocketCloseStatus.NormalClosure,
                    null, CancellationToken.None));
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

    private static async Task HeartbeatAsync(FeedConnection connection, FeedGatewayOptions settings, TimeProvider time, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var jitter = 0.8 + (Random.Shared.NextDouble() * 0.4);
            await Task.Delay(settings.HeartbeatInterval * jitter, time, cancellationToken);
            connection.Enqueue(OutMessage.Control(new HeartbeatMessage("heartbeat", time.GetUtcNow().ToUnixTimeMilliseconds()),
                FeedJsonContext.Default.HeartbeatMessage));
        }
    }

    private static async Task ReceiveAsync(WebSocket socket, FeedConnection connection, FeedHub hub,
        FeedGatewayOptions settings, ILogger logger, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(settings.MaxClientMessageBytes);
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == settings.MaxClientMessageBytes)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig,
                            $"messages are limited to {settings.MaxClientMessageBytes} bytes", cancellationToken);
                        return;
                    }

                    result = await socket.ReceiveAsync(buffer.AsMemory(length, settings.MaxClientMessageBytes - length), cancellationToken);
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

                await HandleAsync(message, connection, hub, settings, logger);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task HandleAsync(ClientMessage? message, FeedConnection connection, FeedHub hub,
        FeedGatewayOptions settings, ILogger logger)
    {
        switch (message?.Type)
        {
            case "subscribe" when !string.IsNullOrEmpty(message.Feed):
                if (!connection.IsWatching(message.Feed) && connection.FeedCount >= settings.MaxFeedsPerConnection)
                {
                    Error(connection, message.Feed, "too-many-feeds", $"A connection may watch at most {settings.MaxFeedsPerConnection} feeds.");
                    return;
                }

                Feed? feed;
                try
                {
                    feed = await hub.AcquireAsync(message.Feed);
                }
                catch (Exception ex)
                {
                    LogSubscribeFailed(logger, ex, message.Feed);
                    Error(connection, message.Feed, "unavailable", "The feed cannot be opened right now; retry later.");
                    return;
                }

                if (feed is null)
                {
                    Error(connection, message.Feed, "unknown-feed", $"'{message.Feed}' is not an area of a loaded election (feeds are \"{{election}}/{{area}}\").");
                    return;
                }

                feed.Attach(connection, message.Resume?.Epoch, message.Resume?.Seq);
                return;
            case "unsubscribe" when !string.IsNullOrEmpty(message.Feed):
                connection.Untrack(message.Feed)?.Detach(connection, DateTimeOffset.UtcNow);
                connection.Enqueue(OutMessage.Control(new UnsubscribedMessage("unsubscribed", message.Feed), FeedJsonContext.Default.UnsubscribedMessage));
                return;
            case "ping":
                connection.Enqueue(OutMessage.Control(new HeartbeatMessage("pong", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()), FeedJsonContext.Default.HeartbeatMessage));
                return;
            default:
                Error(connection, message?.Feed, "bad-message", "Expected {\"type\":\"subscribe\"|\"unsubscribe\"|\"ping\", \"feed\":\"{election}/{area}\"}.");
                return;
        }
    }

    private static void Error(FeedConnection connection, string? feed, string code, string text) =>
        connection.Enqueue(OutMessage.Control(new ErrorMessage("error", feed, code, text), FeedJsonContext.Default.ErrorMessage));

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "Subscribing to {Feed} failed")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception, string feed);
}
