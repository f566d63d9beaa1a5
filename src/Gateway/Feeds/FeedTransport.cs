using System.Buffers;
using System.Buffers.Binary;
using System.Text.Unicode;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Connections;

namespace Tprcs.Gateway.Feeds;

/// <summary>What a transport read from its client.</summary>
public enum ClientReadKind
{
    /// <summary>One whole message (text or binary).</summary>
    Message,
    /// <summary>The client closed, or the connection ended.</summary>
    Closed,
    /// <summary>The message is longer than allowed (close 1009).</summary>
    TooBig,
    /// <summary>The client broke the WebSocket protocol (close 1002).</summary>
    ProtocolError,
    /// <summary>A text message (or a close reason) that is not valid UTF-8 (close 1007).</summary>
    InvalidPayload,
}

public readonly record struct ClientRead(ClientReadKind Kind, byte[]? Payload = null, int Length = 0)
{
    public static ClientRead Closed => new(ClientReadKind.Closed);
}

/// <summary>
/// The socket under one observer's connection. Only the connection's writer loop sends (and, once it
/// has stopped, the session's close); only the session's receive loop receives.
/// </summary>
public abstract class FeedTransport
{
    /// <summary>Writes the messages in order; where it can, with one write for all of them.</summary>
    public abstract ValueTask SendAsync(IReadOnlyList<OutMessage> messages, CancellationToken cancellationToken);

    /// <summary>The next whole client message, at most <paramref name="maxBytes"/> long.</summary>
    public abstract ValueTask<ClientRead> ReceiveAsync(int maxBytes, CancellationToken cancellationToken);

    /// <summary>Sends a close frame unless one was sent already.</summary>
    public abstract Task CloseAsync(int code, string? reason, CancellationToken cancellationToken);

    /// <summary>Drops the connection at once (a client that does not even take its close frame).</summary>
    public abstract void Abort();

    /// <summary>True when the gateway itself must send WebSocket pings with its heartbeats and watch for the answers.</summary>
    public virtual bool SendsOwnPings => false;

    /// <summary>Milliseconds since the client last sent anything (only meaningful when <see cref="SendsOwnPings"/>).</summary>
    public virtual long SilentForMs => 0;
}

/// <summary>
/// A connection accepted by ASP.NET Core's WebSocket middleware (the path for TLS endpoints, HTTP/2
/// and upgrades on a reused connection). Its pings and pongs are the WebSocket's own.
/// </summary>
public sealed class WebSocketFeedTransport(WebSocket socket) : FeedTransport
{
    private const int SmallReceiveBuffer = 256;
    private byte[]? _small;

    public override async ValueTask SendAsync(IReadOnlyList<OutMessage> messages, CancellationToken cancellationToken)
    {
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i].IsText)
            {
                await socket.SendAsync(messages[i].Payload, WebSocketMessageType.Text, true, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Client messages are small (a subscribe is about 100 bytes), so an idle connection waits with
    /// a small buffer of its own and borrows a large one only for a message that does not fit.
    /// </summary>
    public override async ValueTask<ClientRead> ReceiveAsync(int maxBytes, CancellationToken cancellationToken)
    {
        var buffer = _small ??= new byte[Math.Min(SmallReceiveBuffer, maxBytes)];
        byte[]? rented = null;
        try
        {
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                if (length >= maxBytes)
                {
                    return new ClientRead(ClientReadKind.TooBig);
                }

                if (length == buffer.Length)
                {
                    rented = ArrayPool<byte>.Shared.Rent(maxBytes);
                    buffer.AsSpan(0, length).CopyTo(rented);
                    buffer = rented;
                }

                result = await socket.ReceiveAsync(buffer.AsMemory(length, Math.Min(buffer.Length, maxBytes) - length), cancellationToken);
                length += result.Count;
            }
            while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

            return result.MessageType == WebSocketMessageType.Close
                ? ClientRead.Closed
                : new ClientRead(ClientReadKind.Message, buffer.AsSpan(0, length).ToArray(), length);
        }
        catch (WebSocketException)
        {
            return ClientRead.Closed;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public override Task CloseAsync(int code, string? reason, CancellationToken cancellationToken) =>
        socket.State is WebSocketState.Open or WebSocketState.CloseReceived
            ? socket.CloseOutputAsync((WebSocketCloseStatus)code, reason, cancellationToken)
            : Task.CompletedTask;

    public override void Abort() => socket.Abort();
}

/// <summary>
/// A connection the gateway upgraded itself at the connection level (plain-HTTP endpoints): frames
/// are parsed from the transport's input pipe and written straight to the socket, a batch of
/// queued frames with one gather write, with no copy (the frames are shared by every client).
/// An idle connection holds no buffer at all.
/// </summary>
public sealed class DirectFeedTransport : FeedTransport
{
    private readonly Socket _socket;
    private readonly PipeReader _input;
    private readonly ConnectionContext _connection;

    /// <param name="time">The clock of the client's silence (dead-peer check); the system's by default.</param>
    public DirectFeedTransport(Socket socket, PipeReader input, ConnectionContext connection, TimeProvider? time = null)
    {
        _socket = socket;
        _input = input;
        _connection = connection;
        _time = time ?? TimeProvider.System;
        _lastReceived = _time.GetTimestamp();
        // Only this transport's synchronous sends see this: Kestrel's reads are asynchronous.
        _socket.Blocking = false;
    }

    /// <summary>Sends the bytes on a non-blocking socket: at once when they fit, waiting only for the rest.</summary>
    public static ValueTask SendNowAsync(Socket socket, byte[] bytes)
    {
        var sent = socket.Send(bytes, 0, bytes.Length, SocketFlags.None, out var error);
        if (error is not (SocketError.Success or SocketError.WouldBlock))
        {
            return ValueTask.FromException(new SocketException((int)error));
        }

        return sent == bytes.Length ? default : SendRestAsync(socket, bytes, Math.Max(0, sent));

        static async ValueTask SendRestAsync(Socket socket, byte[] bytes, int sent)
        {
            while (sent < bytes.Length)
            {
                sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
            }
        }
    }

    private const int MaxSegmentsPerWrite = 64;

    [ThreadStatic]
    private static List<ArraySegment<byte>>? t_segments;

    private int _closeSent;
    private readonly TimeProvider _time;
    private long _lastReceived;

    /// <summary>Where answers to the client's pings go: the connection's own send queue.</summary>
    public FeedConnection? Connection { get; set; }

    public override bool SendsOwnPings => true;

    /// <summary>Silence counts only while the session waits for the client: pongs that arrive while it handles a message wait in the pipe.</summary>
    public override long SilentForMs => Volatile.Read(ref _handling) ? 0 : (long)_time.GetElapsedTime(Volatile.Read(ref _lastReceived)).TotalMilliseconds;

    private bool _handling;

    /// <summary>
    /// Hands the frames to the kernel at once without waiting (one gather write; on a client that
    /// keeps up, its socket buffer has room), and waits only for what did not fit. The socket is
    /// non-blocking for this transport's synchronous sends, so an idle connection keeps no
    /// asynchronous send state of its own.
    /// </summary>
    public override ValueTask SendAsync(IReadOnlyList<OutMessage> messages, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _closeSent) != 0 || messages.Count == 0)
        {
            return default;
        }

        int sent;
        SocketError error;
        long total;
        if (messages.Count == 1)
        {
            var frame = messages[0].Frame;
            total = frame.Length;
            sent = _socket.Send(frame, 0, frame.Length, SocketFlags.None, out error);
        }
        else
        {
            // One list per thread, used only during this synchronous call: nothing per send, nothing per idle connection.
            var segments = t_segments ??= new List<ArraySegment<byte>>(MaxSegmentsPerWrite);
            total = 0;
            for (var i = 0; i < messages.Count && i < MaxSegmentsPerWrite; i++)
            {
                segments.Add(messages[i].Frame);
                total += messages[i].Frame.Length;
            }

            try
            {
                sent = _socket.Send(segments, SocketFlags.None, out error);
            }
            finally
            {
                segments.Clear();
            }
        }

        if (error is not (SocketError.Success or SocketError.WouldBlock))
        {
            Volatile.Write(ref _broken, 1);
            return ValueTask.FromException(new SocketException((int)error));
        }

        return sent == total && messages.Count <= MaxSegmentsPerWrite ? default : SendRestAsync(messages, Math.Max(0, sent), cancellationToken);
    }

    // The slow path: what the kernel did not take at once, frame by frame, waiting for room.
    private async ValueTask SendRestAsync(IReadOnlyList<OutMessage> messages, long skip, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var message in messages)
            {
                var frame = message.Frame;
                if (skip >= frame.Length)
                {
                    skip -= frame.Length;
                    continue;
                }

                while (skip < frame.Length)
                {
                    skip += await _socket.SendAsync(frame.AsMemory((int)skip), SocketFlags.None, cancellationToken);
                }

                skip = 0;
            }
        }
        catch
        {
            // A frame may be cut short: nothing more may be written on this connection, not even a close frame.
            Volatile.Write(ref _broken, 1);
            throw;
        }
    }

    private int _broken;

    /// <summary>
    /// Every whole frame that has arrived is parsed and copied out at once, so the transport's
    /// buffer goes back to its pool while the messages are handled (a subscribe can take a while).
    /// </summary>
    public override async ValueTask<ClientRead> ReceiveAsync(int maxBytes, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _handling))
        {
            // The previous message has been handled: the silence clock starts again from now.
            Volatile.Write(ref _lastReceived, _time.GetTimestamp());
            Volatile.Write(ref _handling, false);
        }

        while (true)
        {
            if (_ready is { Count: > 0 } ready)
            {
                var read = ready.Dequeue();
                Volatile.Write(ref _handling, read.Kind == ClientReadKind.Message);
                return read;
            }

            if (_ended)
            {
                return ClientRead.Closed;
            }

            var result = await _input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var ended = ParseAll(ref buffer, maxBytes);
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (!ended && (result.IsCompleted || result.IsCanceled))
            {
                Ready(ClientRead.Closed);
            }
        }
    }

    /// <summary>
    /// A client's close frame (RFC 6455 5.5.1, 7.4): no payload, or a code a client may send and a
    /// UTF-8 reason. Anything else ends the connection with 1002 (or 1007 for the reason) instead.
    /// </summary>
    private static ClientRead CheckClose(ReadOnlySequence<byte> payload, WsFrame.Header header)
    {
        if (header.PayloadLength == 0)
        {
            return ClientRead.Closed;
        }

        Span<byte> close = stackalloc byte[WsFrame.MaxControlPayload];
        close = close[..header.PayloadLength];
        WsFrame.Unmask(payload, header.MaskKey, close);
        if (close.Length < 2 || !WsFrame.IsValidCloseCode(BinaryPrimitives.ReadUInt16BigEndian(close)))
        {
            return new ClientRead(ClientReadKind.ProtocolError);
        }

        return Utf8.IsValid(close[2..]) ? ClientRead.Closed : new ClientRead(ClientReadKind.InvalidPayload);
    }

    // A message being assembled from fragments (and whether it is text), and messages parsed but not yet handled.
    private bool _text;
    private byte[]? _message;
    private int _length;
    private bool _inMessage;
    private bool _ended;
    private Queue<ClientRead>? _ready;

    private void Ready(ClientRead read)
    {
        (_ready ??= new Queue<ClientRead>(2)).Enqueue(read);
        _ended |= read.Kind != ClientReadKind.Message;
    }

    /// <summary>Parses the whole frames at the start of <paramref name="buffer"/>; true once the connection's input has ended (close or error).</summary>
    private bool ParseAll(ref ReadOnlySequence<byte> buffer, int maxBytes)
    {
        while (!_ended)
        {
            var status = WsFrame.TryParse(buffer, maxBytes - _length, out var header, out var payload);
            if (status == WsFrame.ParseStatus.NeedMore)
            {
                return false;
            }

            if (status != WsFrame.ParseStatus.Frame)
            {
                Ready(new ClientRead(status == WsFrame.ParseStatus.TooBig ? ClientReadKind.TooBig : ClientReadKind.ProtocolError));
                break;
            }

            Volatile.Write(ref _lastReceived, _time.GetTimestamp());
            buffer = buffer.Slice(header.Length);
            switch (header.Opcode)
            {
                case WsFrame.Close:
                    Ready(CheckClose(payload, header));
                    continue;
                case WsFrame.Ping:
                    var ping = new byte[header.PayloadLength];
                    WsFrame.Unmask(payload, header.MaskKey, ping);
                    Connection?.Enqueue(OutMessage.ControlFrame(WsFrame.Pong, ping));
                    continue;
                case WsFrame.Pong:
                    continue;
                case WsFrame.Continuation when !_inMessage:
                case WsFrame.Text or WsFrame.Binary when _inMessage:
                    Ready(new ClientRead(ClientReadKind.ProtocolError));
                    continue;
            }

            if (!_inMessage)
            {
                _text = header.Opcode == WsFrame.Text;
            }

            _inMessage = true;
            if (_message is null || _message.Length < _length + header.PayloadLength)
            {
                Array.Resize(ref _message, _length + header.PayloadLength);
            }

            WsFrame.Unmask(payload, header.MaskKey, _message.AsSpan(_length, header.PayloadLength));
            _length += header.PayloadLength;
            if (header.Fin)
            {
                // RFC 6455 8.1: a text message must be valid UTF-8 (checked whole: client messages are small).
                Ready(_text && !Utf8.IsValid(_message.AsSpan(0, _length))
                    ? new ClientRead(ClientReadKind.InvalidPayload)
                    : new ClientRead(ClientReadKind.Message, _message, _length));
                (_message, _length, _inMessage) = (null, 0, false);
            }
        }

        // Whatever follows a close or an error is not read.
        buffer = buffer.Slice(buffer.End);
        return true;
    }

    public override async Task CloseAsync(int code, string? reason, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _broken) != 0)
        {
            // After a cut frame a close frame would land inside it: drop the connection instead.
            Abort();
            return;
        }

        if (Interlocked.Exchange(ref _closeSent, 1) == 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await SendNowAsync(_socket, WsFrame.BuildClose(code, reason));
        }
    }

    public override void Abort() => _connection.Abort();
}
