using System.Buffers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tprcs.Load;

/// <summary>
/// A lean protocol client, so that 10,000 of them fit beside the servers on the same cores: a plain
/// socket speaking WebSocket itself (handshake, masked client frames, pongs), read by an
/// <see cref="EpollLoop"/> that handles every frame a read brings (<see cref="FrameReader"/>), and a parser that reads only
/// type, feed, epoch, seq and updatedAt (the small fields a delta starts with). It checks that every
/// feed's chain is continuous (snapshot, then seq + 1, + 2, ...) and counts gaps.
/// With <see cref="RawDialect.SignalR"/> the same client speaks ASP.NET Core SignalR's JSON hub
/// protocol instead (the baseline's clients: handshake record, pings, invocations whose argument is
/// the delta), so that both servers are measured against clients of the same cost.
/// </summary>
/// <remarks>
/// The handshake uses the socket synchronously, so .NET's own socket engine never registers the
/// socket; from then on only the loop reads it (Linux only, like the rest of this tool's process
/// handling).
/// </remarks>
public sealed class RawClient
{
    private const int HandshakeBuffer = 4096;
    private const byte RecordSeparator = 0x1E;
    private readonly RawDialect _dialect;
    private readonly UpdateTracker _tracker;
    private readonly string[] _feeds;
    private readonly byte[][] _feedBytes;
    private readonly int[] _feedIndex;
    private readonly string?[] _epoch;
    private readonly long[] _seq;
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private readonly Lock _sendGate = new();
    private int _snapshots;

    private readonly FrameReader _frames = new();
    private readonly FrameReader.FrameHandler _onFrame;

    // SignalR: text received after the last whole record (a record may span frames or fragments).
    private byte[]? _records;
    private int _recordsLength;

    public RawClient(UpdateTracker tracker, string[] feeds, RawDialect dialect = RawDialect.Tprcs)
    {
        _dialect = dialect;
        _onFrame = OnFrame;
        _tracker = tracker;
        _feeds = feeds;
        _feedBytes = feeds.Select(Encoding.UTF8.GetBytes).ToArray();
        _feedIndex = feeds.Select(tracker.FeedIndex).ToArray();
        _epoch = new string?[feeds.Length];
        _seq = new long[feeds.Length];
    }

    public int Gaps { get; private set; }
    public int Duplicates { get; private set; }
    public int Errors { get; private set; }
    public long Deltas { get; private set; }
    public bool Ready => Volatile.Read(ref _snapshots) >= _feeds.Length;
    public bool Closed { get; private set; }

    /// <summary>The socket's file descriptor, for the loop.</summary>
    internal int Fd => (int)_socket.SafeHandle.DangerousGetHandle();

    /// <summary>
    /// Connects and upgrades (synchronously), subscribes every feed, and hands the socket to
    /// <paramref name="loop"/>. A 503 throws <see cref="RetryException"/> with the server's Retry-After.
    /// </summary>
    public void Start(Uri url, EpollLoop loop)
    {
        _socket.Connect(url.Host, url.Port);
        _socket.ReceiveTimeout = 30_000;
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var protocol = _dialect == RawDialect.Tprcs ? "Sec-WebSocket-Protocol: tprcs.v1\r\n" : "";
        _socket.Send(Encoding.ASCII.GetBytes(
            $"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{protocol}\r\n"));

        // The response head, and whatever frames came with it.
        var buffer = new byte[HandshakeBuffer];
        var length = 0;
        int end;
        while ((end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (length == buffer.Length)
            {
                throw new HttpRequestException("The handshake response is too long.");
            }

            var n = _socket.Receive(buffer, length, buffer.Length - length, SocketFlags.None);
            if (n == 0)
            {
                throw new HttpRequestException("The server closed during the handshake.");
            }

            length += n;
        }

        var head = Encoding.ASCII.GetString(buffer, 0, end);
        if (head.StartsWith("HTTP/1.1 503", StringComparison.Ordinal))
        {
            var line = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Retry-After:", StringComparison.OrdinalIgnoreCase));
            var seconds = line is not null && int.TryParse(line["Retry-After:".Length..].Trim(), out var s) ? s : 1;
            _socket.Dispose();
            throw new RetryException(TimeSpan.FromSeconds(seconds));
        }

        if (!head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
        {
            _socket.Dispose();
            throw new HttpRequestException($"Upgrade refused: {head.Split("\r\n")[0]}");
        }

        if (_dialect == RawDialect.SignalR)
        {
            // The hub protocol's handshake; the feeds' groups come from the query string.
            Send(0x1, "{\"protocol\":\"json\",\"version\":1}\u001e"u8);
        }
        else
        {
            foreach (var feed in _feeds)
            {
                Send(0x1, Encoding.UTF8.GetBytes($$"""{"type":"subscribe","feed":"{{feed}}"}"""));
            }
        }

        // Frames that came with the handshake's answer are handled first (under the loop's first read).
        _frames.Hold(buffer.AsSpan(end + 4, length - (end + 4)));

        loop.Add(this);
    }

    /// <summary>A 503: try again after (a random time in [hint, 2 × hint], as the SDK does).</summary>
    public sealed class RetryException(TimeSpan hint) : Exception
    {
        public TimeSpan Hint { get; } = hint;
    }

    /// <summary>One masked client frame, sent whole (frames are tiny; the loop answers pings with it too).</summary>
    private void Send(byte opcode, ReadOnlySpan<byte> payload)
    {
        Span<byte> frame = stackalloc byte[ClientFrame.MaxLength];
        var length = ClientFrame.Write(frame, opcode, payload);
        lock (_sendGate)
        {
            try
            {
                _socket.Send(frame[..length]);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Closed: the loop sees it on its next read.
            }
        }
    }

    /// <summary>
    /// Called by the loop when the socket is readable: one read (into <paramref name="shared"/>, or
    /// after the partial frame held from the last read), then every whole frame. False once the
    /// connection has ended.
    /// </summary>
    internal bool OnReadable(byte[] shared)
    {
        try
        {
            return _frames.Read(Fd, shared, _onFrame);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    // One server frame; false at a close frame.
    private bool OnFrame(byte opcode, ReadOnlySpan<byte> payload)
    {
        switch (opcode)
        {
            case 0x0 or 0x1 when _dialect == RawDialect.SignalR:
                // SignalR's transport may fragment a message; its records are read as one stream of text.
                HandleRecords(payload);
                break;
            case 0x1:
                Handle(payload);
                break;
            case 0x9:
                Send(0xA, payload);
                break;
            case 0x8:
                return false;
        }

        return true;
    }

    internal void MarkClosed()
    {
        Closed = true;
        _frames.Release();

        if (_records is not null)
        {
            ArrayPool<byte>.Shared.Return(_records);
            _records = null;
        }
    }

    /// <summary>SignalR: keeps the connection alive (the hub drops a client silent for 30 s; its own clients ping every 15 s).</summary>
    public void Ping()
    {
        if (_dialect == RawDialect.SignalR && !Closed)
        {
            Send(0x1, "{\"type\":6}\u001e"u8);
        }
    }

    // SignalR: every whole record of the text received so far; what follows the last separator waits for more.
    private void HandleRecords(ReadOnlySpan<byte> text)
    {
        if (_recordsLength == 0 && text.Length > 0 && text[^1] == RecordSeparator)
        {
            // The usual case: whole records, handled where they are.
            HandleWholeRecords(text);
            return;
        }

        if (_records is null || _recordsLength + text.Length > _records.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(HandshakeBuffer, (_recordsLength + text.Length) * 2));
            _records?.AsSpan(0, _recordsLength).CopyTo(bigger);
            if (_records is not null)
            {
                ArrayPool<byte>.Shared.Return(_records);
            }

            _records = bigger;
        }

        text.CopyTo(_records.AsSpan(_recordsLength));
        _recordsLength += text.Length;
        var last = _records.AsSpan(0, _recordsLength).LastIndexOf(RecordSeparator);
        if (last < 0)
        {
            return;
        }

        HandleWholeRecords(_records.AsSpan(0, last + 1));
        var rest = _recordsLength - (last + 1);
        _records.AsSpan(last + 1, rest).CopyTo(_records);
        _recordsLength = rest;
    }

    private void HandleWholeRecords(ReadOnlySpan<byte> text)
    {
        int end;
        while ((end = text.IndexOf(RecordSeparator)) >= 0)
        {
            HandleHubMessage(text[..end]);
            text = text[(end + 1)..];
        }
    }

    // {"type":1,"target":"delta","arguments":[sentAtUs,{delta}]}, {"type":6} (ping), {"type":7} (close),
    // {} (the handshake's answer) or {"error":"..."} (a refused handshake).
    private void HandleHubMessage(ReadOnlySpan<byte> record)
    {
        var reader = new Utf8JsonReader(record);
        reader.Read();
        var type = 0;
        var error = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                type = reader.GetInt32();
            }
            else if (reader.ValueTextEquals("arguments"u8) && type == 1)
            {
                reader.Read(); // [
                reader.Read(); // the time the hub sent it (µs since the Unix epoch)
                var sentAtUs = reader.GetInt64();
                reader.Read(); // the delta's {
                HandleObject(ref reader, record, sentAtUs);
                return;
            }
            else
            {
                error |= reader.ValueTextEquals("error"u8);
                reader.Read();
                reader.Skip();
            }
        }

        switch (type)
        {
            case 0 when error:
                Errors++;
                break;
            case 0 when Volatile.Read(ref _snapshots) == 0:
                Interlocked.Exchange(ref _snapshots, _feeds.Length); // the handshake's answer: in the groups
                break;
            case 6:
                Ping();
                break;
            case 7:
                Errors++;
                break;
        }
    }

    private void Handle(ReadOnlySpan<byte> message)
    {
        var reader = new Utf8JsonReader(message);
        reader.Read();
        HandleObject(ref reader, message);
    }

    // A TPRCS server message, the reader on its opening brace. A SignalR delta comes with the time the
    // hub sent it (<paramref name="sentAtUs"/>), which stands for its updatedAt (the recorded one is old).
    private void HandleObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, long sentAtUs = 0)
    {
        var kind = 0; // 1 snapshot, 2 delta, 3 error
        var feed = -1;
        var epochMatches = false;
        string? epoch = null;
        long seq = -1;
        long updatedAt = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                kind = reader.ValueTextEquals("delta"u8) ? 2 : reader.ValueTextEquals("snapshot"u8) ? 1 : reader.ValueTextEquals("error"u8) ? 3 : 0;
                if (kind == 0)
                {
                    return;
                }
            }
            else if (reader.ValueTextEquals("feed"u8))
            {
                reader.Read();
                for (var i = 0; i < _feedBytes.Length; i++)
                {
                    if (reader.ValueTextEquals(_feedBytes[i]))
                    {
                        feed = i;
                    }
                }
            }
            else if (reader.ValueTextEquals("epoch"u8))
            {
                reader.Read();
                if (kind == 1 || (_dialect == RawDialect.SignalR && feed >= 0 && _epoch[feed] is null))
                {
                    epoch = reader.GetString();
                }
                else if (feed >= 0 && _epoch[feed] is { } held)
                {
                    epochMatches = reader.ValueTextEquals(held);
                }
            }
            else if (reader.ValueTextEquals("seq"u8))
            {
                reader.Read();
                seq = reader.GetInt64();
                if (kind == 1 || (kind == 2 && sentAtUs != 0))
                {
                    break; // a snapshot's document comes after, a delta's rows too: not needed here
                }
            }
            else if (reader.ValueTextEquals("updatedAt"u8))
            {
                reader.Read();
                updatedAt = (reader.GetDateTimeOffset().UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
                if (kind == 2)
                {
                    break; // a delta's rows come after: not needed here
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (sentAtUs != 0)
        {
            updatedAt = sentAtUs;
        }

        if (feed < 0)
        {
            if (kind == 3)
            {
                Errors++;
            }

            return;
        }

        switch (kind)
        {
            case 1:
                if (_epoch[feed] is null)
                {
                    Interlocked.Increment(ref _snapshots);
                }

                _epoch[feed] = epoch;
                _seq[feed] = seq;
                break;
            case 2 when _dialect == RawDialect.SignalR && _epoch[feed] is null:
                // SignalR has no snapshot: a feed's first delta starts its chain.
                Deltas++;
                _epoch[feed] = epoch;
                _seq[feed] = seq;
                _tracker.Delivered(_feedIndex[feed], _feeds[feed], seq, updatedAt, message);
                break;
            case 2:
                Deltas++;
                if (epochMatches && seq <= _seq[feed])
                {
                    Duplicates++;
                    return;
                }

                if (!epochMatches || seq != _seq[feed] + 1)
                {
                    Gaps++;
                }

                _seq[feed] = seq;
                _tracker.Delivered(_feedIndex[feed], _feeds[feed], seq, updatedAt, message);
                break;
            case 3:
                Errors++;
                // "overloaded" or "unavailable": subscribe again later (bounded: the run ends anyway).
                var name = _feeds[feed];
                _ = Task.Delay(TimeSpan.FromSeconds(1 + Random.Shared.NextDouble())).ContinueWith(_ =>
                    Send(0x1, Encoding.UTF8.GetBytes($$"""{"type":"subscribe","feed":"{{name}}"}""")), TaskScheduler.Default);
                break;
        }
    }

    /// <summary>Closes without waiting for the server (the benchmark stops the server first, so the TIME_WAIT stays there).</summary>
    public void Abort() => _socket.Dispose();
}

/// <summary>What a <see cref="RawClient"/> speaks.</summary>
public enum RawDialect
{
    /// <summary>TPRCS's own protocol, tprcs.v1 (docs/protocol.md).</summary>
    Tprcs,

    /// <summary>ASP.NET Core SignalR's JSON hub protocol over WebSockets, without the negotiation round trip.</summary>
    SignalR,
}
