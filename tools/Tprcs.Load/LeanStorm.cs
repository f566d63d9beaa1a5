using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tprcs.Client;

namespace Tprcs.Load;

/// <summary>
/// The reconnect storm with lean clients: the same cluster, kill and measurements as <see cref="Storm"/>,
/// but each client is a few hundred bytes of state on a raw non-blocking socket in an epoll loop,
/// running the SDK's own reconnect policy (<see cref="Backoff"/> with the node's first-retry window,
/// a random other gateway, a URL that dropped the connection skipped for 10 s, 503 hints) and
/// resuming both feeds from its position. A client notices the loss and starts its next attempt in
/// microseconds, so on this one machine the herd arrives at the surviving nodes the way 10,000
/// separate machines would send it: at once without jitter, spread by the policy with it.
/// </summary>
public static class LeanStorm
{
    public static async Task<StormResult> RunAsync(ElectionPlan plan, int n, bool jitter, int silos, string token)
    {
        var mode = jitter ? "lean clients, jitter on (SDK Backoff defaults)" : "lean clients, jitter off (draws = ceiling; server window 0)";
        var cluster = await Storm.StartClusterAsync(plan, mode, jitter, silos, token);
        var clock = Stopwatch.StartNew();
        var ports = cluster.Gateways.Select(g => g.Url.Port).ToArray();
        var loops = Enumerable.Range(0, 2).Select(i => new StormLoop(i, ports, plan, jitter, clock)).ToArray();
        var clients = new StormClient[n];
        for (var i = 0; i < n; i++)
        {
            // About 2,000 new clients a second, all to gateway 1, as the SDK storm does.
            clients[i] = loops[i % loops.Length].Add(i, plan.ChildFeed(i), clock.ElapsedTicks + (i * Stopwatch.Frequency / 2_000));
        }

        foreach (var loop in loops)
        {
            loop.Start();
        }

        try
        {
            Console.WriteLine($"  connecting {n:N0} lean clients to gateway 1 (port {ports[0]})...");
            var deadline = DateTime.UtcNow.AddSeconds(240);
            while (clients.Count(c => c.IsLive) < n && DateTime.UtcNow < deadline)
            {
                Console.Write($"\r  live {clients.Count(c => c.IsLive),6:N0} / {n:N0}   {clock.Elapsed.TotalSeconds,4:N0} s   ");
                await Task.Delay(500);
            }

            var liveBefore = clients.Count(c => c.IsLive);
            var onFirst = clients.Count(c => c.IsLive && c.Gateway == 0);
            Console.WriteLine($"\r  live {liveBefore:N0} / {n:N0} ({onFirst:N0} on gateway 1) after {clock.Elapsed.TotalSeconds:N0} s; gateway 1 RSS {cluster.Gateways[0].Process.RssBytes >> 20} MiB");
            using var http = new HttpClient { BaseAddress = cluster.Gateways[1].Url, Timeout = TimeSpan.FromSeconds(30) };
            using var ingest = new IngestDriver(plan, cluster.Gateways[1].Url, token);

            foreach (var loop in loops)
            {
                loop.ResetCounts();
            }

            var killedAt = clock.ElapsedTicks;
            foreach (var loop in loops)
            {
                loop.KilledAt = killedAt;
            }

            cluster.Gateways[0].Process.KillHard();
            using var sampling = new CancellationTokenSource();
            var samples = Storm.SampleCpuAsync(cluster, clock, killedAt, sampling.Token);
            Console.WriteLine("  gateway 1 SIGKILLed; submitting sheets through gateway 2 meanwhile");
            await ingest.SubmitAsync(Math.Max(40, plan.Children.Length * 2));
            var targets = (await IngestDriver.StableTargetsAsync(http, plan)).Select(t => (t.Epoch, t.Seq)).ToArray();
            Console.WriteLine($"  target positions: {plan.RootFeed} {targets[0]} (the areas' own documents via {cluster.Gateways[1].Url})");

            bool Resynced(StormClient c) => c.IsLive && c.At(0) == targets[0] && c.At(1) == targets[1 + (c.Index % plan.Children.Length)];
            var stormDeadline = clock.ElapsedTicks + (Stopwatch.Frequency * 120);
            int done;
            while ((done = clients.Count(Resynced)) < liveBefore && clock.ElapsedTicks < stormDeadline)
            {
                Console.Write($"\r  resynced {done,6:N0} / {liveBefore:N0}   {(clock.ElapsedTicks - killedAt) / (double)Stopwatch.Frequency,5:N1} s after the kill   ");
                await Task.Delay(100);
            }

            await sampling.CancelAsync();
            var cpu = await samples;
            var load = Fanout.LoadAverage();
            double Seconds(long ticks) => (ticks - killedAt) / (double)Stopwatch.Frequency;
            var attempts = loops.SelectMany(l => l.Attempts).Where(t => t >= killedAt).Select(Seconds).ToList();
            var times = clients.Where(Resynced).Select(c => Seconds(c.LastChange)).Order().ToList();
            var reconnected = clients.Where(c => c.LiveAgainAt > 0).Select(c => Seconds(c.LiveAgainAt)).Order().ToList();
            Console.WriteLine();
            if (reconnected.Count > 0)
            {
                Console.WriteLine($"  live again on another node : p50 {reconnected[reconnected.Count / 2]:N1} s, p99 {reconnected[(int)(reconnected.Count * 0.99)]:N1} s, last {reconnected[^1]:N1} s ({reconnected.Count:N0} clients)");
            }

            Storm.PrintTimeline(clients.Where(c => c.LostAt > 0).Select(c => Seconds(c.LostAt)).ToList(), attempts, reconnected, times, cpu);
            var peak = attempts.GroupBy(t => (long)Math.Floor(t * 10)).Select(g => (Bucket: g.Key, Count: g.Count())).DefaultIfEmpty().MaxBy(b => b.Count);
            Console.WriteLine($"  gaps seen by the clients: {clients.Sum(c => c.Gaps)}; failed connects: {loops.Sum(l => l.Refused503):N0} × 503, {loops.Sum(l => l.FailedConnects):N0} refused or dropped");
            return new StormResult(mode, n, liveBefore, times.Count,
                times.Count == 0 ? double.NaN : times[^1],
                times.Count == 0 ? double.NaN : times[times.Count / 2],
                times.Count == 0 ? double.NaN : times[Math.Min(times.Count - 1, (int)(times.Count * 0.99))],
                peak.Count, peak.Bucket / 10.0, attempts.Count, loops.Sum(l => l.Refused503), loops.Sum(l => l.FailedConnects), load)
            {
                OnKilledNode = onFirst,
                AlignedPeakPer100Ms = StormResult.AlignedPeak(clients.Select(c => (c.LostAt, c.FirstAttemptAt))),
            };
        }
        finally
        {
            await cluster.DisposeAsync();
            foreach (var loop in loops)
            {
                loop.Dispose();
            }
        }
    }
}

/// <summary>One lean storm client: its connection, its two feeds' positions, and the SDK's backoff.</summary>
internal sealed class StormClient(int index, string[] feeds, Backoff backoff)
{
    public enum State { Waiting, Connecting, Handshake, Open }

    public readonly int Index = index;
    public readonly byte[][] Feeds = [.. feeds.Select(Encoding.UTF8.GetBytes)];
    public readonly string[] FeedNames = feeds;
    public readonly Backoff Backoff = backoff;
    public readonly string?[] Epoch = new string?[2];
    public readonly long[] Seq = [-1, -1];
    public readonly long[] UnreachableUntil = new long[3];
    public State Is;
    public int Fd = -1;
    public int LoopIndex;
    public int Gateway;
    public int Generation;
    public bool Hello;
    public TimeSpan? Window;
    /// <summary>The handshake's answer being read (pooled), then the frames.</summary>
    public byte[]? Handshake;
    public int HandshakeLength;
    public readonly FrameReader Frames = new();
    public FrameReader.FrameHandler? OnFrame;
    public long LastChange;
    public long LostAt;
    public long FirstAttemptAt;
    public long LiveAgainAt;
    public int Gaps;

    public bool IsLive => Is == State.Open && Hello && Epoch[0] is not null && Epoch[1] is not null;

    public (string Epoch, long Seq) At(int feed) => (Epoch[feed] ?? "", Seq[feed]);
}

/// <summary>
/// One thread, one epoll set and one timer queue for a share of the lean storm clients: connects,
/// handshakes, frames, losses and the waits between attempts, all without a task or an exception.
/// </summary>
internal sealed class StormLoop : IDisposable
{
    private static readonly string Key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
    private readonly int _epfd = Epoll.Create();
    private readonly int _id;
    private readonly int[] _ports;
    private readonly ElectionPlan _plan;
    private readonly bool _jitter;
    private readonly Stopwatch _clock;
    private readonly List<StormClient> _clients = [];
    private readonly PriorityQueue<(StormClient Client, int Generation, int Feed), long> _timers = new();
    private readonly ConcurrentQueue<long> _attempts = new();
    private readonly Thread _thread;
    private readonly Random _random = new();
    private volatile bool _stopping;
    private int _refused503;
    private int _failed;

    public StormLoop(int id, int[] ports, ElectionPlan plan, bool jitter, Stopwatch clock)
    {
        (_id, _ports, _plan, _jitter, _clock) = (id, ports, plan, jitter, clock);
        _thread = new Thread(Run) { IsBackground = true, Name = $"storm-{id}" };
    }

    public long KilledAt { get; set; }
    public IEnumerable<long> Attempts => _attempts;
    public int Refused503 => Volatile.Read(ref _refused503);
    public int FailedConnects => Volatile.Read(ref _failed);

    public StormClient Add(int index, string childFeed, long connectAt)
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30),
            _jitter ? Random.Shared.NextDouble : () => 1.0, TimeProvider.System);
        var client = new StormClient(index, [_plan.RootFeed, childFeed], backoff) { LoopIndex = _clients.Count };
        client.OnFrame = (opcode, payload) => OnFrame(client, opcode, payload);
        _clients.Add(client);
        _timers.Enqueue((client, 0, -1), connectAt);
        return client;
    }

    public void Start() => _thread.Start();

    public void ResetCounts()
    {
        _attempts.Clear();
        Interlocked.Exchange(ref _refused503, 0);
        Interlocked.Exchange(ref _failed, 0);
    }

    private long Ms(double ms) => (long)(ms * Stopwatch.Frequency / 1000);

    private void Run()
    {
        var events = new byte[1024 * Epoll.EventSize];
        var buffer = new byte[64 * 1024];
        var clientsById = _clients.ToArray();
        while (!_stopping)
        {
            var now = _clock.ElapsedTicks;
            var timeout = _timers.TryPeek(out _, out var due) ? (int)Math.Clamp((due - now) * 1000 / Stopwatch.Frequency, 0, 50) : 50;
            var count = Epoll.WaitFor(_epfd, events, timeout);
            for (var i = 0; i < count; i++)
            {
                var (_, data) = Epoll.EventAt(events, i);
                var client = clientsById[(int)data];
                switch (client.Is)
                {
                    case StormClient.State.Connecting:
                        OnConnected(client);
                        break;
                    case StormClient.State.Handshake:
                        OnHandshake(client, buffer);
                        break;
                    case StormClient.State.Open:
                        OnReadable(client, buffer);
                        break;
                }
            }

            now = _clock.ElapsedTicks;
            while (_timers.TryPeek(out var timer, out due) && due <= now)
            {
                _timers.Dequeue();
                if (timer.Generation != timer.Client.Generation)
                {
                    continue;
                }

                if (timer.Feed < 0 && timer.Client.Is == StormClient.State.Waiting)
                {
                    StartAttempt(timer.Client);
                }
                else if (timer.Feed >= 0 && timer.Client.Is == StormClient.State.Open)
                {
                    Subscribe(timer.Client, timer.Feed);
                }
            }
        }
    }

    private void StartAttempt(StormClient c)
    {
        var at = _clock.ElapsedTicks;
        _attempts.Enqueue(at);
        if (c.LostAt > 0 && c.FirstAttemptAt == 0)
        {
            c.FirstAttemptAt = at;
        }

        c.Generation++;
        c.Hello = false;
        c.Fd = Epoll.StartConnect(_ports[c.Gateway]);
        if (c.Fd < 0)
        {
            Failed(c, unreachable: true, hint: null);
            return;
        }

        c.Is = StormClient.State.Connecting;
        Epoll.Add(_epfd, c.Fd, Epoll.Out | Epoll.In | Epoll.RdHup, (ulong)c.LoopIndex);
    }

    private void OnConnected(StormClient c)
    {
        if (Epoll.PendingError(c.Fd) != 0)
        {
            Failed(c, unreachable: true, hint: null);
            return;
        }

        var request = Encoding.ASCII.GetBytes(
            $"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{_ports[c.Gateway]}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {Key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tprcs.v1\r\n\r\n");
        if (!Epoll.SendAll(c.Fd, request))
        {
            Failed(c, unreachable: true, hint: null);
            return;
        }

        Epoll.Modify(_epfd, c.Fd, Epoll.In | Epoll.RdHup, (ulong)c.LoopIndex);
        c.Is = StormClient.State.Handshake;
        c.Handshake = ArrayPool<byte>.Shared.Rent(4096);
        c.HandshakeLength = 0;
    }

    private void OnHandshake(StormClient c, byte[] buffer)
    {
        var n = Epoll.TryReceive(c.Fd, c.Handshake.AsSpan(c.HandshakeLength));
        if (n == -1)
        {
            return;
        }

        if (n <= 0)
        {
            Failed(c, unreachable: true, hint: null);
            return;
        }

        c.HandshakeLength += n;
        var head = c.Handshake.AsSpan(0, c.HandshakeLength);
        var end = head.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            if (c.HandshakeLength == c.Handshake!.Length)
            {
                Failed(c, unreachable: false, hint: null);
            }

            return;
        }

        var status = Encoding.ASCII.GetString(head[..Math.Min(12, end)]);
        if (status.StartsWith("HTTP/1.1 503", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _refused503);
            var text = Encoding.ASCII.GetString(head[..end]);
            var line = text.Split("\r\n").FirstOrDefault(l => l.StartsWith("Retry-After:", StringComparison.OrdinalIgnoreCase));
            var hint = RetryHints.FromRetryAfter(line?["Retry-After:".Length..], DateTimeOffset.UtcNow) ?? TimeSpan.FromSeconds(1);
            Failed(c, unreachable: false, hint);
            return;
        }

        if (!status.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
        {
            Failed(c, unreachable: false, hint: null);
            return;
        }

        c.Is = StormClient.State.Open;
        c.Frames.Hold(head[(end + 4)..]);
        ReturnHandshake(c);
        if (!c.Frames.HandleHeld(buffer, c.OnFrame!) && c.Is == StormClient.State.Open)
        {
            Lost(c, closeFrame: false);
        }
    }

    private void OnReadable(StormClient c, byte[] shared)
    {
        if (!c.Frames.Read(c.Fd, shared, c.OnFrame!) && c.Is == StormClient.State.Open)
        {
            // The end of the stream or an error (a close frame has been handled as a loss already).
            Lost(c, closeFrame: false);
        }
    }

    // One frame of an open connection; false once the connection is over (a close frame).
    private bool OnFrame(StormClient c, byte opcode, ReadOnlySpan<byte> payload)
    {
        switch (opcode)
        {
            case 0x1:
                Handle(c, payload);
                break;
            case 0x9:
                SendFrame(c, 0xA, payload);
                break;
            case 0x8:
                Lost(c, closeFrame: true);
                break;
        }

        return c.Is == StormClient.State.Open;
    }

    private void Handle(StormClient c, ReadOnlySpan<byte> message)
    {
        var reader = new Utf8JsonReader(message);
        reader.Read();
        string? type = null;
        var feed = -1;
        string? epoch = null;
        long seq = -1;
        long? window = null, retryAfter = null;
        string? code = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                type = reader.GetString();
            }
            else if (reader.ValueTextEquals("feed"u8))
            {
                reader.Read();
                feed = reader.ValueTextEquals(c.Feeds[0]) ? 0 : reader.ValueTextEquals(c.Feeds[1]) ? 1 : -1;
            }
            else if (reader.ValueTextEquals("epoch"u8))
            {
                reader.Read();
                epoch = reader.GetString();
            }
            else if (reader.ValueTextEquals("seq"u8))
            {
                reader.Read();
                seq = reader.GetInt64();
                if (type is "delta" or "snapshot")
                {
                    break; // the rows and the document come after: not needed here
                }
            }
            else if (reader.ValueTextEquals("retryWindowMs"u8))
            {
                reader.Read();
                window = reader.GetInt64();
            }
            else if (reader.ValueTextEquals("retryAfterMs"u8))
            {
                reader.Read();
                retryAfter = reader.TokenType == JsonTokenType.Number ? reader.GetInt64() : null;
            }
            else if (reader.ValueTextEquals("code"u8))
            {
                reader.Read();
                code = reader.GetString();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (window is { } w)
        {
            c.Window = TimeSpan.FromMilliseconds(w);
        }

        switch (type)
        {
            case "hello":
                c.Hello = true;
                c.Backoff.Connected();
                if (KilledAt != 0 && c.LiveAgainAt == 0)
                {
                    c.LiveAgainAt = _clock.ElapsedTicks;
                }

                Subscribe(c, 0);
                Subscribe(c, 1);
                break;
            case "snapshot" when feed >= 0:
                (c.Epoch[feed], c.Seq[feed], c.LastChange) = (epoch, seq, _clock.ElapsedTicks);
                break;
            case "delta" when feed >= 0:
                if (epoch == c.Epoch[feed] && seq == c.Seq[feed] + 1)
                {
                    (c.Seq[feed], c.LastChange) = (seq, _clock.ElapsedTicks);
                }
                else if (!(epoch == c.Epoch[feed] && seq <= c.Seq[feed]))
                {
                    // A gap: ask again from the position held, as the SDK's store does.
                    c.Gaps++;
                    Subscribe(c, feed);
                }

                break;
            case "error" when feed >= 0 && code is "overloaded" or "unavailable":
                var wait = retryAfter is { } ms ? ms : 2000 * (0.5 + _random.NextDouble());
                _timers.Enqueue((c, c.Generation, feed), _clock.ElapsedTicks + Ms(wait));
                break;
        }
    }

    private void Subscribe(StormClient c, int feed)
    {
        var resume = c.Epoch[feed] is { } epoch ? $$""","resume":{"epoch":"{{epoch}}","seq":{{c.Seq[feed]}}}""" : "";
        SendFrame(c, 0x1, Encoding.UTF8.GetBytes($$"""{"type":"subscribe","feed":"{{c.FeedNames[feed]}}"{{resume}}}"""));
    }

    private static void SendFrame(StormClient c, byte opcode, ReadOnlySpan<byte> payload)
    {
        Span<byte> frame = stackalloc byte[ClientFrame.MaxLength];
        Epoll.SendAll(c.Fd, frame[..ClientFrame.Write(frame, opcode, payload)]);
    }

    // The connection that was live is gone: the SDK's rule for the next attempt.
    private void Lost(StormClient c, bool closeFrame)
    {
        var wasLive = c.Hello;
        Close(c);
        if (wasLive)
        {
            if (KilledAt != 0 && c.LostAt == 0)
            {
                c.LostAt = _clock.ElapsedTicks;
            }

            c.Backoff.ConnectionLost(c.Window);
        }

        Next(c, unreachable: !closeFrame, hint: null);
    }

    private void Failed(StormClient c, bool unreachable, TimeSpan? hint)
    {
        if (KilledAt != 0 && hint is null)
        {
            Interlocked.Increment(ref _failed);
        }

        var wasLive = c.Hello;
        Close(c);
        if (wasLive)
        {
            c.Backoff.ConnectionLost(c.Window);
        }

        Next(c, unreachable, hint);
    }

    private void Next(StormClient c, bool unreachable, TimeSpan? hint)
    {
        var now = _clock.ElapsedTicks;
        if (unreachable)
        {
            c.UnreachableUntil[c.Gateway] = now + Ms(GatewayListSkip);
        }

        if (hint is { } h)
        {
            c.Backoff.Hint(h);
        }

        var delay = c.Backoff.NextDelay();
        // A random other gateway, skipping those that dropped or refused a connection in the last 10 s.
        var others = Enumerable.Range(0, _ports.Length).Where(g => g != c.Gateway && c.UnreachableUntil[g] <= now).ToArray();
        c.Gateway = others.Length > 0 ? others[_random.Next(others.Length)] : (c.Gateway + 1 + _random.Next(_ports.Length - 1)) % _ports.Length;
        c.Is = StormClient.State.Waiting;
        _timers.Enqueue((c, c.Generation, -1), now + Ms(delay.TotalMilliseconds));
    }

    private const double GatewayListSkip = 10_000;

    private static void Close(StormClient c)
    {
        if (c.Fd >= 0)
        {
            Epoll.CloseFd(c.Fd);
            c.Fd = -1;
        }

        ReturnHandshake(c);
        c.Frames.Release();
        c.Hello = false;
    }

    private static void ReturnHandshake(StormClient c)
    {
        if (c.Handshake is not null)
        {
            ArrayPool<byte>.Shared.Return(c.Handshake);
            (c.Handshake, c.HandshakeLength) = (null, 0);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        if (_thread.IsAlive)
        {
            _thread.Join(TimeSpan.FromSeconds(2));
        }

        foreach (var c in _clients)
        {
            Close(c);
        }

        Epoll.CloseFd(_epfd);
    }
}
