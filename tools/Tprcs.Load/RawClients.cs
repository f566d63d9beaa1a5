using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Tprcs.Load;

/// <summary>
/// A lightweight protocol client for 10,000 in one process: one ClientWebSocket and one receive
/// loop, parsing only type, feed, epoch, seq and updatedAt of each message; it checks that every
/// feed's chain is continuous (snapshot, then seq + 1, + 2, ...) and counts gaps.
/// </summary>
public sealed class RawClient
{
    private readonly UpdateTracker _tracker;
    private readonly string[] _feeds;
    private readonly byte[][] _feedBytes;
    private readonly int[] _feedIndex;
    private readonly string?[] _epoch;
    private readonly long[] _seq;
    private readonly ClientWebSocket _socket = new();
    private int _snapshots;

    public RawClient(UpdateTracker tracker, string[] feeds)
    {
        _tracker = tracker;
        _feeds = feeds;
        _feedBytes = feeds.Select(Encoding.UTF8.GetBytes).ToArray();
        _feedIndex = feeds.Select(tracker.FeedIndex).ToArray();
        _epoch = new string?[feeds.Length];
        _seq = new long[feeds.Length];
        _socket.Options.AddSubProtocol("tprcs.v1");
        _socket.Options.CollectHttpResponseDetails = true;
    }

    public int Gaps { get; private set; }
    public int Duplicates { get; private set; }
    public int Errors { get; private set; }
    public long Deltas { get; private set; }
    public bool Ready => Volatile.Read(ref _snapshots) >= _feeds.Length;
    public bool Closed { get; private set; }

    /// <summary>Connects (retrying a 503 after its Retry-After), subscribes every feed and starts the receive loop.</summary>
    public async Task StartAsync(Uri url, CancellationToken cancellationToken)
    {
        try
        {
            await _socket.ConnectAsync(url, cancellationToken);
        }
        catch (WebSocketException) when (_socket.HttpStatusCode == HttpStatusCode.ServiceUnavailable)
        {
            var seconds = _socket.HttpResponseHeaders?.TryGetValue("Retry-After", out var v) == true && int.TryParse(v.FirstOrDefault(), out var s) ? s : 1;
            // A ClientWebSocket cannot connect twice: the caller makes a new client.
            await Task.Delay(TimeSpan.FromSeconds(seconds * (1 + Random.Shared.NextDouble())), cancellationToken);
            throw new RetryException();
        }

        foreach (var feed in _feeds)
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes($$"""{"type":"subscribe","feed":"{{feed}}"}"""), WebSocketMessageType.Text, true, cancellationToken);
        }

        _ = Task.Run(() => ReceiveLoopAsync(cancellationToken), CancellationToken.None);
    }

    public sealed class RetryException : Exception;

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var small = new byte[4096];
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(small.AsMemory(), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                if (result.EndOfMessage)
                {
                    Handle(small.AsSpan(0, result.Count));
                    continue;
                }

                // A large message (a snapshot): finish it in a pooled buffer.
                var length = result.Count;
                var big = ArrayPool<byte>.Shared.Rent(64 * 1024);
                small.AsSpan(0, length).CopyTo(big);
                try
                {
                    do
                    {
                        if (length == big.Length)
                        {
                            var bigger = ArrayPool<byte>.Shared.Rent(big.Length * 2);
                            big.AsSpan(0, length).CopyTo(bigger);
                            ArrayPool<byte>.Shared.Return(big);
                            big = bigger;
                        }

                        result = await _socket.ReceiveAsync(big.AsMemory(length), cancellationToken);
                        length += result.Count;
                    }
                    while (!result.EndOfMessage);
                    Handle(big.AsSpan(0, length));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(big);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }

        Closed = true;
    }

    private void Handle(ReadOnlySpan<byte> message)
    {
        var reader = new Utf8JsonReader(message);
        reader.Read();
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
                if (kind == 1)
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
            }
            else if (reader.ValueTextEquals("updatedAt"u8))
            {
                reader.Read();
                updatedAt = (reader.GetDateTimeOffset().UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
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
                    _socket.SendAsync(Encoding.UTF8.GetBytes($$"""{"type":"subscribe","feed":"{{name}}"}"""), WebSocketMessageType.Text, true, CancellationToken.None),
                    TaskScheduler.Default);
                break;
        }
    }

    /// <summary>Closes without waiting for the server (the benchmark stops the server first, so the TIME_WAIT stays there).</summary>
    public void Abort()
    {
        _socket.Abort();
        _socket.Dispose();
    }
}
