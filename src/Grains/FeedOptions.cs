using System.ComponentModel.DataAnnotations;

namespace Tprcs.Grains;

/// <summary>How areas publish their feeds (section <c>Tprcs:Feeds</c>).</summary>
public sealed class FeedOptions
{
    public const string Section = "Tprcs:Feeds";

    /// <summary>
    /// Shortest time between two updates of one area's feed (and reports to its parent). Changes
    /// arriving in between are coalesced into one update. Default: 250 ms, so at most 4 updates a
    /// second per feed whatever the ingest rate.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long the silo's stream pulling agents wait before looking again at a feed queue they found
    /// empty. An update published while its queue's agent waits sits there until it looks, so this is
    /// the longest delay it adds between an area's update and the gateways (half of it on average).
    /// Orleans' default is 100 ms; each agent's look is one call to its queue (20 ms costs an idle
    /// silo about 2% of a core more than 100 ms). Default: 20 ms.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan StreamPollInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>How many recent deltas an area keeps so that clients can resume without a snapshot. Default: 256.</summary>
    [Range(0, 100_000)]
    public int DeltaWindow { get; set; } = 256;

    /// <summary>
    /// How often an active area re-reads its children (a ward: the submission log) to repair lost
    /// reports. Each area adds up to 20% random jitter so that areas do not reconcile in step. Default: 60 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long an area keeps publishing on its stream after a gateway last asked for its snapshot
    /// or caught up with it. Gateways watching a feed check its tail every few seconds, which renews
    /// this; a feed nobody watches costs no stream traffic (a new watcher starts from a snapshot).
    /// Default: 60 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan WatchLease { get; set; } = TimeSpan.FromSeconds(60);
}
