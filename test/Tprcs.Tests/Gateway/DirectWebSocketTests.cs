using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Tprcs.Gateway.Feeds;
using Tprcs.Tests.Support;

namespace Tprcs.Tests.Gateway;

/// <summary>
/// The gateway's own WebSocket transport (connection-level upgrade of <c>/ws</c> on plain-HTTP
/// endpoints), driven byte by byte with a raw TCP client, and the ASP.NET Core path it falls back to.
/// </summary>
public class DirectWebSocketTests
{
    private const string Root = $"{TestGateway.Election}/ED";

    [Fact]
    public async Task The_handshake_is_answered_by_the_gateway_itself_and_fragmented_messages_and_pings_are_handled()
    {
        await using var g = await TestGateway.StartAsync();
        using var ws = await RawWebSocket.ConnectAsync(g.BaseAddress);
        Assert.Contains("HTTP/1.1 101", ws.ResponseHead);
        Assert.Contains($"Sec-WebSocket-Accept: {ws.ExpectedAccept}", ws.ResponseHead);
        Assert.Contains("Sec-WebSocket-Protocol: tprcs.v1", ws.ResponseHead);
        // The connection-level path answers without Kestrel's HTTP response headers.
        Assert.DoesNotContain("Server: Kestrel", ws.ResponseHead);
        Assert.Equal("hello", (string?)(await ws.NextJsonAsync("hello"))["type"]);

        // A subscribe in two fragments, with a ping between them (control frames may interleave).
        var subscribe = Encoding.UTF8.GetBytes($$"""{"type":"subscribe","feed":"{{Root}}"}""");
        await ws.SendFrameAsync(WsFrame.Text, subscribe.AsSpan(0, 10).ToArray(), fin: false);
        await ws.SendFrameAsync(WsFrame.Ping, "are you there"u8.ToArray());
        await ws.SendFrameAsync(WsFrame.Continuation, subscribe.AsSpan(10).ToArray());

        var pong = await ws.NextFrameAsync(f => f.Opcode == WsFrame.Pong, "a pong");
        Assert.Equal("are you there", Encoding.UTF8.GetString(pong.Payload));
        var snapshot = await ws.NextJsonAsync("snapshot");
        Assert.Equal(Root, (string?)snapshot["feed"]);
        Assert.True((long)snapshot["seq"]! >= 0);

        // A normal close is answered with a close frame.
        await ws.SendFrameAsync(WsFrame.Close, [0x03, 0xE8]);
        var close = await ws.NextFrameAsync(f => f.Opcode == WsFrame.Close, "the close answer");
        Assert.Equal(1000, BinaryPrimitives.ReadUInt16BigEndian(close.Payload));
    }

    [Fact]
    public async Task An_unmasked_frame_is_closed_with_1002_and_a_message_over_the_limit_with_1009()
    {
        await using var g = await TestGateway.StartAsync(settings: new Dictionary<string, string>
        {
            ["Tprcs:Feeds:Gateway:MaxClientMessageBytes"] = "512",
        });

        using (var ws = await RawWebSocket.ConnectAsync(g.BaseAddress))
        {
            await ws.NextJsonAsync("hello");
            await ws.SendFrameAsync(WsFrame.Text, "{\"type\":\"ping\"}"u8.ToArray(), mask: false);
            var close = await ws.NextFrameAsync(f => f.Opcode == WsFrame.Close, "a close for the unmasked frame");
            Assert.Equal(1002, BinaryPrimitives.ReadUInt16BigEndian(close.Payload));
        }

        using (var ws = await RawWebSocket.ConnectAsync(g.BaseAddress))
        {
            await ws.NextJsonAsync("hello");
            await ws.SendFrameAsync(WsFrame.Text, Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"feed\":\"" + new string('x', 600) + "\"}"));
            var close = await ws.NextFrameAsync(f => f.Opcode == WsFrame.Close, "a close for the long message");
            Assert.Equal(1009, BinaryPrimitives.ReadUInt16BigEndian(close.Payload));
            Assert.Contains("512", Encoding.UTF8.GetString(close.Payload.AsSpan(2)));
        }
    }

    [Fact]
    public async Task Text_that_is_not_UTF8_is_closed_with_1007_and_a_malformed_close_frame_with_1002()
    {
        await using var g = await TestGateway.StartAsync();

        async Task<int> CloseCodeAfterAsync(params (byte Opcode, byte[] Payload, bool Fin)[] frames)
        {
            using var ws = await RawWebSocket.ConnectAsync(g.BaseAddress);
            await ws.NextJsonAsync("hello");
            foreach (var (opcode, payload, fin) in frames)
            {
                await ws.SendFrameAsync(opcode, payload, fin: fin);
            }

            var close = await ws.NextFrameAsync(f => f.Opcode == WsFrame.Close, "the gateway's close frame");
            return BinaryPrimitives.ReadUInt16BigEndian(close.Payload);
        }

        byte[] Close(int code, byte[] reason) => [(byte)(code >> 8), (byte)code, .. reason];

        // "{"type":"ping","x":"é"}" with the é cut after its first byte, then a bare continuation byte.
        Assert.Equal(1007, await CloseCodeAfterAsync((WsFrame.Text, [.. "{\"type\":\"ping\",\"x\":\""u8, 0xC3, 0x28, .. "\"}"u8], true)));
        Assert.Equal(1007, await CloseCodeAfterAsync((WsFrame.Text, [0x80], true)));
        // A close frame's payload is empty or a valid code (with a UTF-8 reason).
        Assert.Equal(1002, await CloseCodeAfterAsync((WsFrame.Close, [0x03], true)));
        Assert.Equal(1002, await CloseCodeAfterAsync((WsFrame.Close, Close(1005, []), true)));
        Assert.Equal(1002, await CloseCodeAfterAsync((WsFrame.Close, Close(999, []), true)));
        Assert.Equal(1007, await CloseCodeAfterAsync((WsFrame.Close, Close(1000, [0xFF, 0xFE]), true)));
        Assert.Equal(1000, await CloseCodeAfterAsync((WsFrame.Close, Close(4000, "bye"u8.ToArray()), true)));

        // Valid UTF-8 split between fragments (inside the é) is one valid message: answered, not closed.
        using var split = await RawWebSocket.ConnectAsync(g.BaseAddress);
        await split.NextJsonAsync("hello");
        byte[] ping = [.. "{\"type\":\"ping\",\"x\":\""u8, 0xC3, 0xA9, .. "\"}"u8];
        var cut = Array.IndexOf(ping, (byte)0xC3) + 1;
        await split.SendFrameAsync(WsFrame.Text, ping[..cut], fin: false);
        await split.SendFrameAsync(WsFrame.Continuation, ping[cut..]);
        Assert.Equal("pong", (string?)(await split.NextJsonAsync("pong"))["type"]);
    }

    [Fact]
    public async Task A_client_that_answers_no_ping_is_dropped_while_one_that_answers_stays()
    {
        await using var g = await TestGateway.StartAsync(settings: new Dictionary<string, string>
        {
            ["Tprcs:Feeds:Gateway:HeartbeatInterval"] = "00:00:00.200",
            ["Tprcs:Feeds:Gateway:KeepAliveTimeout"] = "00:00:01",
        });
        await using var answering = await FeedTestClient.ConnectAsync(g.WebSocketUri);
        using var silent = await RawWebSocket.ConnectAsync(g.BaseAddress);
        await silent.NextJsonAsync("hello");
        var pings = 0;

        // The silent client reads everything but never answers: the node must drop it.
        var ended = await silent.ReadUntilClosedAsync(f => pings += f.Opcode == WsFrame.Ping ? 1 : 0, TimeSpan.FromSeconds(15),
            "the gateway dropping a client that answers no ping");
        Assert.True(ended);
        Assert.True(pings >= 2, $"only {pings} ping(s) before the drop");

        // ClientWebSocket answers pings by itself; it is still served heartbeats after the drop.
        await answering.NextOfTypeAsync("heartbeat");
        await answering.NextOfTypeAsync("heartbeat");
        Assert.Equal(WebSocketState.Open, answering.State);
    }

    [Fact]
    public async Task A_direct_client_that_stops_reading_is_closed_once_its_socket_and_queue_are_full_and_the_others_keep_up()
    {
        await using var g = await TestGateway.StartAsync(settings: new Dictionary<string, string>
        {
            ["Tprcs:Feeds:Gateway:MaxConsecutiveOverflows"] = "2",
            ["Tprcs:Feeds:Gateway:SubscriptionsPerSecond"] = "100000",
        });
        var node = g.Services.GetRequiredService<GatewayNodeState>();
        await using var fast = await FeedTestClient.ConnectAsync(g.WebSocketUri);
        await fast.SubscribeAsync(Root);
        var doc = new FeedDoc(await fast.NextOfTypeAsync("snapshot", Root));

        using var stuck = await RawWebSocket.ConnectAsync(g.BaseAddress);
        await Wait.UntilAsync(() => Task.FromResult(node.Connections == 2), TimeSpan.FromSeconds(10), "both clients connected");
        // Every subscribe is answered with a whole snapshot: a client that asks again and again and
        // never reads fills its socket's buffers, then its queue, until the node gives up on it.
        var subscribe = Encoding.UTF8.GetBytes($$"""{"type":"subscribe","feed":"{{Root}}"}""");
        var asking = System.Diagnostics.Stopwatch.StartNew();
        while (node.Connections == 2 && asking.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                await stuck.SendFrameAsync(WsFrame.Text, subscribe);
            }
            catch (IOException)
            {
                break; // aborted by the node already
            }
        }

        await Wait.UntilAsync(() => Task.FromResult(node.Connections == 1), TimeSpan.FromSeconds(10),
            "the node dropping the client that stopped reading");

        // The other client is still served, promptly and exactly.
        var response = await g.Agent_.PostAsJsonAsync($"/api/v1/elections/{TestGateway.Election}/submissions", Bodies.Sheet(Bodies.NewId("st"), Bodies.Unit(91)));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        await fast.NextAsync(m =>
        {
            if ((string?)m["feed"] == Root && (string?)m["type"] == "delta")
            {
                doc.Apply(m);
            }
            else if ((string?)m["feed"] == Root && (string?)m["type"] == "snapshot")
            {
                doc = new FeedDoc(m);
            }

            return (long)doc.Totals["units"]!["reported"]! >= 1;
        }, "the reading client seeing the next sheet", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Other_requests_on_the_same_port_reach_the_normal_pipeline()
    {
        await using var g = await TestGateway.StartAsync();
        Assert.Equal("ok", await g.Http.GetStringAsync("/healthz"));
        var plain = await g.Http.GetAsync("/ws");
        Assert.Equal(HttpStatusCode.BadRequest, plain.StatusCode);
        Assert.Contains("WebSocket required", await plain.Content.ReadAsStringAsync());
        var notWs = await g.Http.GetAsync("/wsx");
        Assert.Equal(HttpStatusCode.NotFound, notWs.StatusCode);
    }

    [Fact]
    public async Task With_direct_sockets_off_the_aspnet_path_serves_the_same_protocol()
    {
        await using var g = await TestGateway.StartAsync(settings: new Dictionary<string, string>
        {
            ["Tprcs:Feeds:Gateway:DirectWebSockets"] = "false",
        });
        using (var raw = await RawWebSocket.ConnectAsync(g.BaseAddress))
        {
            // Kestrel's own 101 this time.
            Assert.Contains("Server: Kestrel", raw.ResponseHead);
        }

        await using var client = await FeedTestClient.ConnectAsync(g.WebSocketUri);
        await client.NextOfTypeAsync("hello");
        await client.SubscribeAsync(Root);
        var doc = new FeedDoc(await client.NextOfTypeAsync("snapshot", Root));
        var unit = Bodies.Unit(77);
        var response = await g.Agent_.PostAsJsonAsync($"/api/v1/elections/{TestGateway.Election}/submissions", Bodies.Sheet(Bodies.NewId("fb"), unit));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        await client.NextAsync(m =>
        {
            if ((string?)m["feed"] == Root && (string?)m["type"] == "delta")
            {
                doc.Apply(m);
            }

            return (long)doc.Totals["units"]!["reported"]! >= 1;
        }, "the national feed counting the sheet through the ASP.NET path");
    }

    [Fact]
    public async Task A_send_cut_short_by_cancellation_is_never_followed_by_a_close_frame()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient { ReceiveBufferSize = 4096 };
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptSocketAsync();
        var pipe = new System.IO.Pipelines.Pipe();
        var connection = new Microsoft.AspNetCore.Connections.DefaultConnectionContext();
        var transport = new DirectFeedTransport(server, pipe.Reader, connection);

        // A frame far larger than the socket buffers, to a client that does not read: the send
        // waits, and is cancelled midway.
        var big = OutMessage.Json(OutKind.Control, null, null, 0, new string('x', 8 * 1024 * 1024), TestJson.Default.String);
        using var cancel = new CancellationTokenSource();
        var send = transport.SendAsync([big], cancel.Token).AsTask();
        Assert.False(send.IsCompleted, "the 8 MiB frame fitted in the socket buffers at once");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);

        // The session would now close: the transport must drop the connection instead of writing a
        // close frame into the middle of the cut frame.
        await transport.CloseAsync(1000, null, CancellationToken.None);
        var aborted = new TaskCompletionSource();
        using (connection.ConnectionClosed.Register(() => aborted.TrySetResult()))
        {
            var done = await Task.WhenAny(aborted.Task, Task.Delay(TimeSpan.FromSeconds(10)));
            Assert.True(done == aborted.Task, "the connection was not aborted within 10 s");
        }

        server.Close();
        var received = new MemoryStream();
        await client.GetStream().CopyToAsync(received).WaitAsync(TimeSpan.FromSeconds(30));
        var bytes = received.ToArray();
        Assert.InRange(bytes.Length, 1, big.Frame.Length - 1);
        Assert.True(bytes.AsSpan().SequenceEqual(big.Frame.AsSpan(0, bytes.Length)), "bytes other than the frame's were written after it");
    }

    [Fact]
    public async Task A_client_is_not_counted_silent_while_its_own_message_is_being_handled()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptSocketAsync();
        var pipe = new System.IO.Pipelines.Pipe();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var transport = new DirectFeedTransport(server, pipe.Reader, new Microsoft.AspNetCore.Connections.DefaultConnectionContext(), time);
        var options = new FeedGatewayOptions { HeartbeatInterval = TimeSpan.FromSeconds(1), KeepAliveTimeout = TimeSpan.FromSeconds(2) };
        using var abort = new CancellationTokenSource();
        var connection = new FeedConnection(transport, options, abort);
        var heartbeat = OutMessage.Control(new HeartbeatMessage("heartbeat", 0), FeedJsonContext.Default.HeartbeatMessage);
        // Dead after 1.2 heartbeats + the keep-alive timeout of silence: 3.2 s here.

        await pipe.Writer.WriteAsync(RawWebSocket.Frame(WsFrame.Text, "{\"type\":\"subscribe\",\"feed\":\"e/NG\"}"u8.ToArray(), fin: true, mask: true));
        var read = await transport.ReceiveAsync(4096, CancellationToken.None);
        Assert.Equal(ClientReadKind.Message, read.Kind);

        // The subscribe takes a minute to handle (a cold grain, say): the client is waiting for us, not silent.
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, transport.SilentForMs);
        connection.Heartbeat(heartbeat);
        Assert.False(abort.IsCancellationRequested, "the connection was dropped as dead while its own message was being handled");

        // Handled: the silence clock starts again from the moment the session waits for the client.
        var next = transport.ReceiveAsync(4096, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(3000, transport.SilentForMs);
        connection.Heartbeat(heartbeat);
        Assert.False(abort.IsCancellationRequested, "the connection was dropped before the limit");
        time.Advance(TimeSpan.FromSeconds(0.5));
        connection.Heartbeat(heartbeat);
        Assert.True(abort.IsCancellationRequested, "a client silent for 3.5 s (limit 3.2 s) was not dropped");

        pipe.Writer.Complete();
        Assert.Equal(ClientReadKind.Closed, (await next.AsTask().WaitAsync(TimeSpan.FromSeconds(10))).Kind);
    }

    [Fact]
    public async Task On_the_aspnet_path_a_message_over_the_limit_is_closed_with_1009()
    {
        await using var g = await TestGateway.StartAsync(settings: new Dictionary<string, string>
        {
            ["Tprcs:Feeds:Gateway:DirectWebSockets"] = "false",
            // Not a power of two: the borrowed buffer is larger than the limit.
            ["Tprcs:Feeds:Gateway:MaxClientMessageBytes"] = "300",
        });
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("tprcs.v1");
        await socket.ConnectAsync(g.WebSocketUri, CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"feed\":\"" + new string('x', 1000) + "\"}"), WebSocketMessageType.Text, true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[64 * 1024];
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, timeout.Token);
        }
        while (result.MessageType != WebSocketMessageType.Close);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
    }

    [Theory]
    [InlineData(125, 2)]
    [InlineData(126, 4)]
    [InlineData(65_535, 4)]
    [InlineData(65_536, 10)]
    public void Server_frames_use_the_shortest_length_encoding(int length, int header)
    {
        var frame = WsFrame.Build(WsFrame.Text, new byte[length], out var headerLength);
        Assert.Equal(header, headerLength);
        Assert.Equal(0x81, frame[0]);
        Assert.Equal(length + header, frame.Length);
    }

    [Fact]
    public void Client_frames_are_parsed_only_when_whole_masked_and_within_the_limit()
    {
        var payload = Encoding.UTF8.GetBytes("{\"type\":\"ping\"}");
        var frame = RawWebSocket.Frame(WsFrame.Text, payload, fin: true, mask: true);

        for (var cut = 0; cut < frame.Length; cut++)
        {
            Assert.Equal(WsFrame.ParseStatus.NeedMore, WsFrame.TryParse(new ReadOnlySequence<byte>(frame, 0, cut), 4096, out _, out _));
        }

        Assert.Equal(WsFrame.ParseStatus.Frame, WsFrame.TryParse(new ReadOnlySequence<byte>(frame), 4096, out var h, out var body));
        Assert.Equal(frame.Length, h.Length);
        var unmasked = new byte[h.PayloadLength];
        WsFrame.Unmask(body, h.MaskKey, unmasked);
        Assert.Equal(payload, unmasked);

        Assert.Equal(WsFrame.ParseStatus.TooBig, WsFrame.TryParse(new ReadOnlySequence<byte>(frame), payload.Length - 1, out _, out _));
        Assert.Equal(WsFrame.ParseStatus.ProtocolError,
            WsFrame.TryParse(new ReadOnlySequence<byte>(RawWebSocket.Frame(WsFrame.Text, payload, fin: true, mask: false)), 4096, out _, out _));
        Assert.Equal(WsFrame.ParseStatus.ProtocolError,
            WsFrame.TryParse(new ReadOnlySequence<byte>(RawWebSocket.Frame(WsFrame.Ping, payload, fin: false, mask: true)), 4096, out _, out _));
        Assert.Equal(WsFrame.ParseStatus.ProtocolError,
            WsFrame.TryParse(new ReadOnlySequence<byte>(RawWebSocket.Frame(0x3, payload, fin: true, mask: true)), 4096, out _, out _));
    }
}

/// <summary>A WebSocket client written out by hand, to send exactly the bytes a test needs.</summary>
internal sealed class RawWebSocket : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly List<byte> _pending = [];

    private RawWebSocket(TcpClient tcp, string key)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        ExpectedAccept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
    }

    public string ResponseHead { get; private set; } = "";
    public string ExpectedAccept { get; }

    public readonly record struct Frame_(bool Fin, byte Opcode, byte[] Payload);

    public static async Task<RawWebSocket> ConnectAsync(Uri baseAddress)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(baseAddress.Host, baseAddress.Port).WaitAsync(TimeSpan.FromSeconds(10));
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var ws = new RawWebSocket(tcp, key);
        var request = $"GET /ws HTTP/1.1\r\nHost: {baseAddress.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tprcs.v1\r\n\r\n";
        await ws._stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var head = new List<byte>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var one = new byte[1];
        while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await ws._stream.ReadAsync(one, timeout.Token) == 0)
            {
                throw new IOException($"the gateway closed during the handshake after: {Encoding.ASCII.GetString(head.ToArray())}");
            }

            head.Add(one[0]);
        }

        ws.ResponseHead = Encoding.ASCII.GetString(head.ToArray());
        return ws;
    }

    public static byte[] Frame(byte opcode, byte[] payload, bool fin, bool mask)
    {
        var frame = new List<byte> { (byte)((fin ? 0x80 : 0) | opcode) };
        var maskBit = mask ? 0x80 : 0;
        if (payload.Length < 126)
        {
            frame.Add((byte)(maskBit | payload.Length));
        }
        else
        {
            frame.Add((byte)(maskBit | 126));
            frame.Add((byte)(payload.Length >> 8));
            frame.Add((byte)payload.Length);
        }

        var key = mask ? RandomNumberGenerator.GetBytes(4) : [0, 0, 0, 0];
        if (mask)
        {
            frame.AddRange(key);
        }

        frame.AddRange(payload.Select((b, i) => (byte)(b ^ key[i & 3])));
        return frame.ToArray();
    }

    public Task SendFrameAsync(byte opcode, byte[] payload, bool fin = true, bool mask = true) =>
        _stream.WriteAsync(Frame(opcode, payload, fin, mask)).AsTask();

    /// <summary>The next frame the server sends; null when the connection ended.</summary>
    private async Task<Frame_?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(2, cancellationToken))
        {
            return null;
        }

        var length = _pending[1] & 0x7F;
        var header = length == 126 ? 4 : length == 127 ? 10 : 2;
        if (!await FillAsync(header, cancellationToken))
        {
            return null;
        }

        long payloadLength = length == 126 ? (_pending[2] << 8) | _pending[3]
            : length == 127 ? BinaryPrimitives.ReadInt64BigEndian(_pending.GetRange(2, 8).ToArray()) : length;
        Assert.Equal(0, _pending[1] & 0x80); // server frames are never masked
        if (!await FillAsync(header + (int)payloadLength, cancellationToken))
        {
            return null;
        }

        var frame = new Frame_((_pending[0] & 0x80) != 0, (byte)(_pending[0] & 0x0F), _pending.GetRange(header, (int)payloadLength).ToArray());
        _pending.RemoveRange(0, header + (int)payloadLength);
        return frame;
    }

    private async Task<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        while (_pending.Count < count)
        {
            int n;
            try
            {
                n = await _stream.ReadAsync(buffer, cancellationToken);
            }
            catch (IOException)
            {
                return false;
            }

            if (n == 0)
            {
                return false;
            }

            _pending.AddRange(buffer.AsSpan(0, n));
        }

        return true;
    }

    public async Task<Frame_> NextFrameAsync(Func<Frame_, bool> match, string what, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            while (true)
            {
                var frame = await ReadFrameAsync(cts.Token) ?? throw new Xunit.Sdk.XunitException($"The connection ended before {what}.");
                if (match(frame))
                {
                    return frame;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"Timed out waiting for {what}.");
        }
    }

    public async Task<JsonObject> NextJsonAsync(string type)
    {
        var frame = await NextFrameAsync(f => f.Opcode == WsFrame.Text && (string?)JsonNode.Parse(f.Payload)!["type"] == type, $"a '{type}' message");
        Assert.True(frame.Fin);
        return JsonNode.Parse(frame.Payload)!.AsObject();
    }

    /// <summary>Reads frames until the server ends the connection; false when the time runs out first.</summary>
    public async Task<bool> ReadUntilClosedAsync(Action<Frame_> onFrame, TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await ReadFrameAsync(cts.Token) is { } frame)
            {
                onFrame(frame);
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"Timed out waiting for {what}.");
        }
    }

    public void Dispose() => _tcp.Dispose();
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class TestJson : System.Text.Json.Serialization.JsonSerializerContext;
