using Microsoft.Extensions.Time.Testing;
using Tprcs.Client.Tests.Support;

namespace Tprcs.Client.Tests;

public class FeedStoreTests
{
    private sealed class Recorder
    {
        public List<FeedState> States { get; } = [];
        public List<ResyncRequest> Resyncs { get; } = [];

        public static (FeedStore Store, Recorder Recorder, IDisposable Subscription) Attach(FeedStore store)
        {
            var recorder = new Recorder();
            store.ResyncRequested += (_, r) => recorder.Resyncs.Add(r);
            var subscription = store.Subscribe(recorder.States.Add);
            return (store, recorder, subscription);
        }
    }

    private static (FeedStore Store, Recorder Recorder) Live(FeedDocument snapshot, TimeProvider? time = null)
    {
        var (store, recorder, _) = Recorder.Attach(new FeedStore(Docs.Feed, time));
        Assert.Equal(ApplyResult.Applied, store.ApplySnapshot(snapshot));
        return (store, recorder);
    }

    [Fact]
    public void A_snapshot_is_taken_whole_and_published_to_subscribers()
    {
        var (store, recorder, _) = Recorder.Attach(new FeedStore(Docs.Feed));
        Assert.Equal(FeedStatus.Loading, store.Current.Status);
        var doc = Docs.Snapshot("e1", 7, 40, Docs.Row(1, 100, 80), Docs.Row(2, 50, 60), Docs.Row(3));

        Assert.Equal(ApplyResult.Applied, store.ApplySnapshot(doc));

        var state = store.Current;
        Assert.Equal(FeedStatus.Live, state.Status);
        Assert.Equal(new FeedPosition("e1", 7), state.Position);
        Assert.Equal(40, state.Version);
        Assert.Equal([150L, 140L], state.Totals!.Votes.AsEnumerable());
        Assert.Equal(150, state.VotesOf("APC"));
        Assert.Equal(3, state.Rows.Length);
        Assert.Equal(60, state.RowsByCode["ED/01/01/002"].Tally.Votes[1]);
        Assert.Same(state, recorder.States[^1]);
        Assert.Equal(2, recorder.States.Count); // the initial state, then the snapshot
        Assert.Empty(recorder.Resyncs);
    }

    [Fact]
    public void A_delta_that_follows_is_applied_replacing_rows_by_code()
    {
        var doc = Docs.Snapshot("e1", 7, 40);
        var (store, _) = Live(doc);

        Assert.Equal(ApplyResult.Applied, store.ApplyDelta(Docs.Delta(doc, 8, 41, Docs.Row(2, 120, 30, version: 1))));

        var state = store.Current;
        Assert.Equal(new FeedPosition("e1", 8), state.Position);
        Assert.Equal(41, state.Version);
        Assert.Equal([120L, 30L], state.Totals!.Votes.AsEnumerable());
        Assert.Equal("counted", state.Rows[1].Status);
        Assert.Equal(state.Rows[1], state.RowsByCode["ED/01/01/002"]);
        Assert.Equal(3, state.Rows.Length);
        Assert.Null(TallyMath.FindMismatch(state.Totals, state.Rows));
    }

    [Theory]
    [InlineData("e1", 9)]   // skips seq 8
    [InlineData("e1", 20)]
    [InlineData("e2", 8)]   // another epoch
    [InlineData("e2", 1)]
    public void A_gapped_delta_is_refused_without_a_state_change_and_asks_to_resume_from_the_held_position(string epoch, long seq)
    {
        var doc = Docs.Snapshot("e1", 7, 40);
        var (store, recorder) = Live(doc);
        var before = store.Current;

        var gapped = Docs.Delta(doc, seq, 41, Docs.Row(1, 10, 10)) with { Epoch = epoch };
        Assert.Equal(ApplyResult.Gap, store.ApplyDelta(gapped));

        Assert.Same(before.Document, store.Current.Document);
        Assert.Equal(FeedStatus.Resyncing, store.Current.Status);
        var request = Assert.Single(recorder.Resyncs);
        Assert.Equal(new ResyncRequest(Docs.Feed, new FeedPosition("e1", 7), ResyncReason.Gap), request);
        Assert.Equal(new FeedPosition("e1", 7), store.ResumePosition);
        Assert.Equal(1, store.Gaps);

        // The missed delta then arrives (resume): the chain continues and the state is live again.
        Assert.Equal(ApplyResult.Applied, store.ApplyDelta(Docs.Delta(doc, 8, 41, Docs.Row(1, 10, 10))));
        Assert.Equal(FeedStatus.Live, store.Current.Status);
    }

    [Fact]
    public void A_delta_before_any_snapshot_is_a_gap()
    {
        var (store, recorder, _) = Recorder.Attach(new FeedStore(Docs.Feed));
        Assert.Equal(ApplyResult.Gap, store.ApplyDelta(Docs.Delta(Docs.Snapshot("e1", 0, 0), 1, 1, Docs.Row(1, 1, 1))));
        Assert.False(store.Current.HasDocument);
        Assert.Null(Assert.Single(recorder.Resyncs).Resume);
    }

    [Fact]
    public void A_delta_whose_totals_are_not_the_sum_of_the_rows_is_refused_and_asks_for_a_fresh_snapshot()
    {
        var doc = Docs.Snapshot("e1", 7, 40, Docs.Row(1, 100, 80), Docs.Row(2), Docs.Row(3));
        var (store, recorder) = Live(doc);
        var before = store.Current;

        var good = Docs.Delta(doc, 8, 41, Docs.Row(2, 30, 20));
        var badTotal = good with { Totals = good.Totals with { TotalValid = good.Totals.TotalValid + 1 } };
        Assert.Equal(ApplyResult.Inconsistent, store.ApplyDelta(badTotal));

        Assert.Same(before.Document, store.Current.Document);
        Assert.Equal(FeedStatus.Resyncing, store.Current.Status);
        var request = Assert.Single(recorder.Resyncs);
        Assert.Equal(ResyncReason.Inconsistent, request.Reason);
        Assert.Null(request.Resume);
        Assert.Null(store.ResumePosition);

        // A snapshot repairs it, and the position is offered for resumes again.
        var fresh = Docs.Apply(doc, good);
        Assert.Equal(ApplyResult.Applied, store.ApplySnapshot(fresh));
        Assert.Equal(new FeedPosition("e1", 8), store.ResumePosition);
        Assert.Equal(FeedStatus.Live, store.Current.Status);
    }

    [Fact]
    public void Votes_are_checked_party_by_party_and_nested_counts_too()
    {
        var doc = Docs.Snapshot("e1", 7, 40, Docs.Row(1, 100, 80), Docs.Row(2), Docs.Row(3));
        var good = Docs.Delta(doc, 8, 41, Docs.Row(2, 30, 20));

        // The same sum of votes, split differently between the parties.
        var swapped = good with { Totals = good.Totals with { Votes = [good.Totals.Votes[0] + 1, good.Totals.Votes[1] - 1] } };
        var units = good with { Totals = good.Totals with { Units = good.Totals.Units with { Counted = good.Totals.Units.Counted + 1 } } };
        var flags = good with { Totals = good.Totals with { Flags = good.Totals.Flags with { OverVoting = 1 } } };
        var parties = good with { Totals = good.Totals with { Votes = [.. good.Totals.Votes, 0] } };
        foreach (var bad in new[] { swapped, units, flags, parties })
        {
            var (store, _) = Live(doc);
            Assert.Equal(ApplyResult.Inconsistent, store.ApplyDelta(bad));
            Assert.Equal(doc.Position, store.Current.Position);
        }

        var (ok, _) = Live(doc);
        Assert.Equal(ApplyResult.Applied, ok.ApplyDelta(good));
    }

    [Fact]
    public void An_inconsistent_snapshot_is_refused()
    {
        var doc = Docs.Snapshot("e1", 7, 40, Docs.Row(1, 100, 80), Docs.Row(2), Docs.Row(3));
        var (store, recorder, _) = Recorder.Attach(new FeedStore(Docs.Feed));
        Assert.Equal(ApplyResult.Inconsistent, store.ApplySnapshot(doc with { Totals = doc.Totals with { Rejected = 99 } }));
        Assert.False(store.Current.HasDocument);
        Assert.Equal(ResyncReason.Inconsistent, Assert.Single(recorder.Resyncs).Reason);
    }

    [Fact]
    public void A_duplicate_delta_is_ignored_without_publishing_or_resyncing()
    {
        var doc = Docs.Snapshot("e1", 7, 40);
        var (store, recorder) = Live(doc);
        var d8 = Docs.Delta(doc, 8, 41, Docs.Row(1, 10, 10));
        Assert.Equal(ApplyResult.Applied, store.ApplyDelta(d8));
        var published = recorder.States.Count;

        Assert.Equal(ApplyResult.Duplicate, store.ApplyDelta(d8));
        Assert.Equal(ApplyResult.Duplicate, store.ApplyDelta(Docs.Delta(doc, 7, 40, Docs.Row(1, 99, 99))));
        Assert.Equal(ApplyResult.Duplicate, store.ApplyDelta(Docs.Delta(doc, 3, 30, Docs.Row(1, 99, 99))));

        Assert.Equal(published, recorder.States.Count);
        Assert.Empty(recorder.Resyncs);
        Assert.Equal(new FeedPosition("e1", 8), store.Current.Position);
        Assert.Equal(FeedStatus.Live, store.Current.Status);
    }

    [Fact]
    public void An_older_snapshot_of_the_same_epoch_is_ignored_and_a_new_epoch_replaces_everything()
    {
        var doc = Docs.Snapshot("e1", 7, 40, Docs.Row(1, 100, 80), Docs.Row(2), Docs.Row(3));
        var (store, recorder) = Live(doc);
        var published = recorder.States.Count;

        Assert.Equal(ApplyResult.Older, store.ApplySnapshot(Docs.Snapshot("e1", 5, 30)));
        Assert.Equal(published, recorder.States.Count);
        Assert.Equal(40, store.Current.Version);

        // A new epoch (the area's sequence space restarted): the snapshot replaces the document.
        Assert.Equal(ApplyResult.Applied, store.ApplySnapshot(Docs.Snapshot("e2", 0, 40, Docs.Row(1, 100, 80), Docs.Row(2), Docs.Row(3))));
        Assert.Equal(new FeedPosition("e2", 0), store.Current.Position);
    }

    [Fact]
    public void A_same_epoch_message_whose_version_goes_back_is_refused()
    {
        var doc = Docs.Snapshot("e1", 7, 40);
        var (store, _) = Live(doc);
        Assert.Equal(ApplyResult.Inconsistent, store.ApplyDelta(Docs.Delta(doc, 8, 39, Docs.Row(1, 1, 1))));
        Assert.Equal(ApplyResult.Inconsistent, store.ApplySnapshot(Docs.Snapshot("e1", 9, 39)));
        Assert.Equal(40, store.Current.Version);
    }

    [Fact]
    public void Whatever_arrives_the_published_states_never_go_backwards_within_an_epoch()
    {
        var random = new Random(1234);
        var store = new FeedStore(Docs.Feed);
        var published = new List<FeedState>();
        using var _ = store.Subscribe(published.Add);

        // A correct chain of 200 updates in two epochs, then delivered shuffled, duplicated, dropped, corrupted.
        var chain = new List<(FeedDocument Doc, FeedDelta? Delta)>();
        foreach (var epoch in new[] { "e1", "e2" })
        {
            var doc = Docs.Snapshot(epoch, 0, epoch == "e1" ? 0 : 50);
            chain.Add((doc, null));
            for (var seq = 1; seq <= 100; seq++)
            {
                var row = Docs.Row(random.Next(1, 4), random.Next(0, 300), random.Next(0, 300), version: seq);
                var delta = Docs.Delta(doc, seq, doc.Version + 1, row);
                doc = Docs.Apply(doc, delta);
                chain.Add((doc, delta));
            }
        }

        var applied = 0;
        for (var i = 0; i < 5_000; i++)
        {
            var (doc, delta) = chain[random.Next(chain.Count)];
            var result = random.Next(10) switch
            {
                0 => store.ApplySnapshot(doc),
                1 when delta is not null => store.ApplyDelta(delta with { Totals = delta.Totals with { TotalCast = delta.Totals.TotalCast + 1 } }),
                _ when delta is not null => store.ApplyDelta(delta),
                _ => store.ApplySnapshot(doc),
            };
            applied += result == ApplyResult.Applied ? 1 : 0;

            // Now and then the held position's successor arrives, as a resume would deliver it.
            if (store.Current.Position is { } at && chain.FindIndex(c => c.Doc.Position == at) is var k and >= 0
                && k + 1 < chain.Count && chain[k + 1].Delta is { } next && random.Next(2) == 0)
            {
                applied += store.ApplyDelta(next) == ApplyResult.Applied ? 1 : 0;
            }
        }

        Assert.True(applied > 100, $"only {applied} messages applied: the test did not exercise the store");
        for (var i = 1; i < published.Count; i++)
        {
            var (a, b) = (published[i - 1], published[i]);
            Assert.True(b.Revision > a.Revision);
            if (a.Epoch is not null && a.Epoch == b.Epoch)
            {
                Assert.True(b.Seq >= a.Seq && b.Version >= a.Version, $"went back from {a} to {b}");
            }

            if (b.Totals is { } totals)
            {
                Assert.Null(TallyMath.FindMismatch(totals, b.Rows));
            }
        }

        // The states of the chain are the only ones ever published: never a torn mix.
        var known = chain.Select(c => c.Doc).ToDictionary(d => d.Position);
        foreach (var state in published.Where(s => s.HasDocument))
        {
            var expected = known[state.Position!.Value];
            Assert.Equal(expected.Totals.Votes.AsEnumerable(), state.Totals!.Votes.AsEnumerable());
            Assert.Equal(expected.Version, state.Version);
            Assert.Equal(expected.Rows.Select(r => r.Tally.Votes.Sum()), state.Rows.Select(r => r.Tally.Votes.Sum()));
        }
    }

    [Fact]
    public void While_a_resync_is_pending_more_gaps_ask_again_only_after_the_retry_period()
    {
        var time = new FakeTimeProvider();
        var doc = Docs.Snapshot("e1", 7, 40);
        var (store, recorder) = Live(doc, time);

        Assert.Equal(ApplyResult.Gap, store.ApplyDelta(Docs.Delta(doc, 10, 43)));
        Assert.Equal(ApplyResult.Gap, store.ApplyDelta(Docs.Delta(doc, 11, 44)));
        Assert.Single(recorder.Resyncs);

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(ApplyResult.Gap, store.ApplyDelta(Docs.Delta(doc, 12, 45)));
        Assert.Equal(2, recorder.Resyncs.Count);
    }

    [Fact]
    public void A_stale_store_keeps_its_document_and_is_live_again_when_a_resume_reaches_the_servers_position()
    {
        var doc = Docs.Snapshot("e1", 7, 40);
        var (store, _) = Live(doc);
        var lost = DateTimeOffset.UnixEpoch.AddHours(1);

        store.MarkStale(lost);
        Assert.Equal(FeedStatus.Stale, store.Current.Status);
        Assert.Equal(lost, store.Current.StaleSince);
        Assert.Same(doc.Totals, store.Current.Totals);

        // Resumed: the server is two updates ahead, which follow.
        var d8 = Docs.Delta(doc, 8, 41, Docs.Row(1, 5, 5));
        var d9 = Docs.Delta(Docs.Apply(doc, d8), 9, 42, Docs.Row(2, 5, 5));
        store.OnSubscribed("resume", new FeedPosition("e1", 9));
        Assert.Equal(FeedStatus.Stale, store.Current.Status);
        store.ApplyDelta(d8);
        Assert.Equal(FeedStatus.Stale, store.Current.Status);
        store.ApplyDelta(d9);
        Assert.Equal(FeedStatus.Live, store.Current.Status);
        Assert.Null(store.Current.StaleSince);

        // Resumed at the held position: live at once.
        store.MarkStale(lost);
        store.OnSubscribed("resume", new FeedPosition("e1", 9));
        Assert.Equal(FeedStatus.Live, store.Current.Status);
    }
}
