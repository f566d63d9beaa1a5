using System.Text.Json;
using Tprcs.Gateway.Feeds;

namespace Tprcs.Tests.Gateway;

/// <summary>A feed's window of recent deltas on a node: a ring of consecutive seqs, found by seq.</summary>
public class DeltaWindowTests
{
    private static OutMessage Delta(long seq) =>
        OutMessage.Json(OutKind.Delta, "e/NG", "e1", seq, new UnsubscribedMessage("delta", $"{seq}"), FeedJsonContext.Default.UnsubscribedMessage);

    private static long[] Held(DeltaWindow window) =>
        window.FirstSeq is { } first ? [.. Enumerable.Range(0, window.Count).Select(i => window.At(first + i)!.Seq)] : [];

    [Fact]
    public void Appending_past_the_capacity_drops_the_oldest_and_every_held_seq_is_found()
    {
        var window = new DeltaWindow(5);
        for (var seq = 10L; seq < 23; seq++)
        {
            window.Add(Delta(seq));
            Assert.Equal(Math.Min(5, seq - 9), window.Count);
            Assert.Equal(seq, window.LastSeq);
        }

        Assert.Equal([18L, 19, 20, 21, 22], Held(window));
        Assert.Null(window.At(17));
        Assert.Null(window.At(23));
        Assert.Equal(20, window.At(20)!.Seq);
    }

    [Fact]
    public void Older_deltas_go_in_front_while_there_is_room_newest_first()
    {
        var window = new DeltaWindow(6);
        window.Add(Delta(50));
        window.Add(Delta(51));

        window.Prepend([Delta(44), Delta(45), Delta(46), Delta(47), Delta(48), Delta(49)]);

        Assert.Equal([46L, 47, 48, 49, 50, 51], Held(window));
        // Full: appending still drops the oldest, across the point where the ring wrapped.
        window.Add(Delta(52));
        Assert.Equal([47L, 48, 49, 50, 51, 52], Held(window));
        window.Prepend([Delta(46)]);
        Assert.Equal(47, window.FirstSeq);
    }

    [Fact]
    public void A_delta_that_does_not_follow_starts_the_window_again_and_a_window_of_zero_holds_nothing()
    {
        var window = new DeltaWindow(4);
        window.Add(Delta(1));
        window.Add(Delta(2));
        window.Add(Delta(7));
        Assert.Equal([7L], Held(window));

        window.Clear();
        Assert.Null(window.FirstSeq);
        Assert.Equal(0, window.Count);

        var none = new DeltaWindow(0);
        none.Add(Delta(1));
        Assert.Equal(0, none.Count);
        Assert.Null(none.At(1));
    }

    [Fact]
    public void A_window_of_the_largest_setting_holds_the_last_100000_deltas()
    {
        // 100,000 is the largest DeltaWindow setting (a ring: no copy of the window per delta).
        var window = new DeltaWindow(100_000);
        for (var seq = 0L; seq < 250_000; seq++)
        {
            window.Add(Delta(seq));
        }

        Assert.Equal(100_000, window.Count);
        Assert.Equal(150_000, window.FirstSeq);
        Assert.Equal(249_999, window.At(249_999)!.Seq);
        Assert.Equal("150000", JsonDocument.Parse(window.At(150_000)!.Payload).RootElement.GetProperty("feed").GetString());
    }
}
