using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Tprcs.Gateway.Api;

namespace Tprcs.Gateway.Feeds;

/// <summary>
/// Kestrel connection middleware that serves <c>/ws</c> at the connection level on plain-HTTP
/// endpoints: when a new connection's first request is a WebSocket upgrade of <c>/ws</c>, the gateway
/// answers the handshake itself and runs the protocol with its own framing
/// (<see cref="DirectFeedTransport"/>), without the HTTP request, middleware and WebSocket objects
/// that would otherwise live as long as the connection. Anything else (other paths, TLS, a reused
/// connection, an upgrade that is not quite right) goes on, bytes untouched, to the normal pipeline,
/// whose <c>/ws</c> endpoint serves the same protocol through ASP.NET Core's WebSockets.
/// </summary>
public sealed partial class DirectFeedListener(
    FeedSocketHandler handler,
    IOptions<KestrelServerOptions> kestrel,
    ILogger<DirectFeedListener> logger)
{
    private const int MaxRequestBytes = 8 * 1024;
    private static readonly byte[] Prefix = "GET /ws"u8.ToArray();
    private static readonly byte[] EndOfHeaders = "\r\n\r\n"u8.ToArray();

    /// <summary>
    /// Adds the listener to every endpoint Kestrel opens (those of <c>urls</c> included). Kestrel keeps
    /// one endpoint-defaults action: code that sets its own must call this from it.
    /// </summary>
    public static void Register(KestrelServerOptions options) =>
        options.ConfigureEndpointDefaults(listen => listen.Use(next =>
        {
            var listener = listen.ApplicationServices.GetRequiredService<DirectFeedListener>();
            return context => listener.OnConnectionAsync(context, next);
        }));

    public async Task OnConnectionAsync(ConnectionContext context, ConnectionDelegate next)
    {
        // Registered as endpoint defaults, this middleware runs before TLS on an HTTPS endpoint: it
        // sees the ClientHello, which never starts with "GET /ws", and passes it on untouched.
        if (context.Features.Get<IConnectionSocketFeature>()?.Socket is not { } socket || context.Features.Get<ITlsConnectionFeature>() is not null)
        {
            await next(context);
            return;
        }

        var input = context.Transport.Input;
        Upgrade? upgrade;
        // As Kestrel does: an idle new connection may wait for its first byte as long as a kept-alive
        // one; once a request has begun, its headers must arrive within the headers timeout.
        var limits = kestrel.Value.Limits;
        using (var timeout = new CancellationTokenSource(limits.KeepAliveTimeout))
        {
            var started = false;
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await input.ReadAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    // No request (or not all of its headers) in time, as Kestrel would do.
                    context.Abort();
                    return;
                }

                var buffer = result.Buffer;
                if (!started && !buffer.IsEmpty)
                {
                    started = true;
                    timeout.CancelAfter(limits.RequestHeadersTimeout);
                }

                var status = Upgrade.TryParse(buffer, out upgrade, out var consumed);
                if (status == ParseResult.NeedMore && !result.IsCompleted && !result.IsCanceled && buffer.Length < MaxRequestBytes)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                if (status == ParseResult.Upgrade)
                {
                    input.AdvanceTo(consumed);
                    break;
                }

                // Not ours: Kestrel's HTTP reads the same bytes from the start.
                input.AdvanceTo(buffer.Start);
                upgrade = null;
                break;
            }
        }

        if (upgrade is null)
        {
            await next(context);
            return;
        }

        // Served here rather than in a method of its own: one state machine fewer per connection.
        try
        {
            // Synchronous sends from here on, so that the socket keeps no asynchronous send state
            // (Kestrel's own reads are asynchronous and unaffected).
            socket.Blocking = false;
            if (!handler.TryAdmit(out var retryAfter, out var refusal))
            {
                await DirectFeedTransport.SendNowAsync(socket, Refusal(retryAfter, refusal));
                return;
            }

            await DirectFeedTransport.SendNowAsync(socket, SwitchingProtocols(upgrade));
            using var close = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed);
            await handler.RunSessionAsync(new DirectFeedTransport(socket, input, context), close);
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            LogEnded(logger, ex.Message);
        }
    }

    private static byte[] SwitchingProtocols(Upgrade upgrade)
    {
        var response = new StringBuilder(192)
            .Append("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ")
            .Append(WsFrame.AcceptKey(upgrade.Key)).Append("\r\n");
        if (upgrade.OffersProtocol)
        {
            response.Append("Sec-WebSocket-Protocol: ").Append(FeedSocketEndpoint.Protocol).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(response.Append("\r\n").ToString());
    }

    /// <summary>The same answer as the endpoint's (<see cref="Problems.Unavailable"/>): 503, Retry-After, a problem document; then the connection closes.</summary>
    private static byte[] Refusal(TimeSpan retryAfter, string detail)
    {
        var body = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("type", Problems.UnavailableType);
            json.WriteString("title", Problems.UnavailableTitle);
            json.WriteNumber("status", 503);
            json.WriteString("detail", detail);
            json.WriteEndObject();
        }

        var head = string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: {FeedSocketHandler.RetryAfterSeconds(retryAfter)}\r\nContent-Length: {body.WrittenCount}\r\nConnection: close\r\n\r\n");
        return [.. Encoding.ASCII.GetBytes(head), .. body.WrittenSpan];
    }

    private enum ParseResult
    {
        NeedMore,
        Upgrade,
        NotOurs,
    }

    /// <summary>The parts of a WebSocket upgrade request that the handshake needs.</summary>
    private sealed class Upgrade(string key, bool offersProtocol)
    {
        public string Key { get; } = key;
        public bool OffersProtocol { get; } = offersProtocol;

        /// <summary>
        /// <c>GET /ws</c> (query allowed) over HTTP/1.1 with <c>Upgrade: websocket</c>,
        /// <c>Connection: upgrade</c>, <c>Sec-WebSocket-Version: 13</c> and a key; anything else is not ours.
        /// </summary>
        public static ParseResult TryParse(in ReadOnlySequence<byte> buffer, out Upgrade? upgrade, out SequencePosition consumed)
        {
            upgrade = null;
            consumed = buffer.Start;
            var prefixLength = (int)Math.Min(buffer.Length, Prefix.Length + 1);
            Span<byte> start = stackalloc byte[Prefix.Length + 1];
            buffer.Slice(0, prefixLength).CopyTo(start);
            var compared = Math.Min(prefixLength, Prefix.Length);
            if (!start[..compared].SequenceEqual(Prefix.AsSpan(0, compared)))
            {
                return ParseResult.NotOurs;
            }

            if (prefixLength <= Prefix.Length)
            {
                return ParseResult.NeedMore;
            }

            if (start[Prefix.Length] is not ((byte)' ' or (byte)'?'))
            {
                return ParseResult.NotOurs;
            }

            var reader = new SequenceReader<byte>(buffer);
            if (!reader.TryReadTo(out ReadOnlySequence<byte> head, EndOfHeaders))
            {
                return ParseResult.NeedMore;
            }

            consumed = reader.Position;
            var lines = Encoding.ASCII.GetString(head).Split("\r\n");
            var requestLine = lines[0].Split(' ');
            if (requestLine.Length != 3 || requestLine[2] != "HTTP/1.1")
            {
                return ParseResult.NotOurs;
            }

            string? key = null, version = null;
            bool upgradeWebSocket = false, connectionUpgrade = false, offersProtocol = false;
            foreach (var line in lines.AsSpan(1))
            {
                var colon = line.IndexOf(':');
                if (colon <= 0)
                {
                    return ParseResult.NotOurs;
                }

                var name = line[..colon].Trim();
                var value = line[(colon + 1)..].Trim();
                if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
                {
                    upgradeWebSocket |= HasToken(value, "websocket");
                }
                else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
                {
                    connectionUpgrade |= HasToken(value, "upgrade");
                }
                else if (name.Equals("Sec-WebSocket-Key", StringComparison.OrdinalIgnoreCase))
                {
                    key = value;
                }
                else if (name.Equals("Sec-WebSocket-Version", StringComparison.OrdinalIgnoreCase))
                {
                    version = value;
                }
                else if (name.Equals("Sec-WebSocket-Protocol", StringComparison.OrdinalIgnoreCase))
                {
                    offersProtocol |= HasToken(value, FeedSocketEndpoint.Protocol);
                }
            }

            if (!upgradeWebSocket || !connectionUpgrade || version != "13" || !IsKey(key))
            {
                // The endpoint gives such requests their proper error.
                return ParseResult.NotOurs;
            }

            upgrade = new Upgrade(key!, offersProtocol);
            return ParseResult.Upgrade;
        }

        private static bool HasToken(string value, string token)
        {
            foreach (var part in value.Split(','))
            {
                if (part.Trim().Equals(token, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            return false;
        }

        // A base64 encoding of 16 bytes (RFC 6455, 4.2.1).
        private static bool IsKey(string? key)
        {
            Span<byte> decoded = stackalloc byte[18];
            return key is { Length: 24 } && Convert.TryFromBase64String(key, decoded, out var n) && n == 16;
        }
    }

    [LoggerMessage(EventId = 4204, Level = LogLevel.Debug, Message = "A direct WebSocket connection ended: {Reason}")]
    private static partial void LogEnded(ILogger logger, string reason);
}
