using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Streams;
using Tprcs.Contracts;
using Tprcs.Grains.Domain;
using Tprcs.Grains.Elections;
using Tprcs.Grains.Storage;

namespace Tprcs.Grains;

/// <summary>
/// An area at any level above the polling unit. Keeps each child's absolute (version, tally),
/// ignores stale versions, and publishes its feed and its report upward at a bounded rate. Its
/// version is the sum of its children's versions, so it only grows, across reactivations too.
/// </summary>
public sealed partial class AreaGrain(
    ElectionCatalog catalog,
    ISubmissionLog log,
    IOptions<FeedOptions> options,
    TimeProvider time,
    ILogger<AreaGrain> logger) : Grain, IAreaGrain
{
    private readonly FeedOptions _options = options.Value;
    private readonly Queue<FeedDelta> _window = new();
    private readonly HashSet<int> _changed = [];
    private Election _election = null!;
    private AreaRef _area = null!;
    private IReadOnlyList<AreaRef> _children = [];
    private Dictionary<string, int> _index = [];
    private ChildReport[] _rows = [];
    private ChildReport[] _published = [];
    private bool _unitsBelow;
    private string _epoch = "";
    private long _seq;
    private Tally _totals = null!;
    private long _version;
    private DateTimeOffset _updatedAt;
    private IGrainTimer? _flushTimer;
    private DateTimeOffset _watchedUntil;
    private DateTimeOffset _lastFlush;
    private IAsyncStream<FeedDelta>? _stream;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var (electionId, code) = Keys.Split(this.GetPrimaryKeyString());
        if (!catalog.TryGet(electionId, out var election) || !election.TryGetArea(code, out var area) || area.IsPollingUnit)
        {
            throw new KeyNotFoundException($"'{this.GetPrimaryKeyString()}' is not an area of a loaded election.");
        }

        _election = election;
        _area = area;
        _children = election.ChildrenOf(code);
        _unitsBelow = _children.Count > 0 && _children[0].IsPollingUnit;
        _index = new Dictionary<string, int>(_children.Count, StringComparer.Ordinal);
        _rows = new ChildReport[_children.Count];
        var parties = election.Parties.Count;
        for (var i = 0; i < _children.Count; i++)
        {
            var child = _children[i];
            _index[child.Code] = i;
            _rows[i] = new ChildReport(child.Code, 0,
                TallyMath.Empty(parties, child.RegisteredVoters, election.UnitsUnder(child.Code)),
                child.IsPollingUnit ? UnitStatus.Missing : null);
        }

        _epoch = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 8));
        _stream = this.GetStreamProvider(Keys.StreamProvider)
            .GetStream<FeedDelta>(StreamId.Create(Keys.FeedNamespace, this.GetPrimaryKeyString()));

        // Call other grains only after yielding to this activation's scheduler. Up to here the
        // activation runs inside Orleans' start of the activation; a parent and a child activating
        // at the same moment and calling each other from there were seen to deadlock on Orleans'
        // per-activation locks (a ward reporting up while its LGA asked it for its report).
        await Task.Yield();
        await PullChildrenAsync(cancellationToken);
        _changed.Clear();
        _published = (ChildReport[])_rows.Clone();
        (_totals, _version) = Current();
        _updatedAt = time.GetUtcNow();
        if (_version > 0)
        {
            ReportToParent(_totals, _version);
        }

        var jitter = _options.ReconcileInterval * (Random.Shared.NextDouble() * 0.2);
        this.RegisterGrainTimer(ReconcileTick, _options.ReconcileInterval + jitter, _options.ReconcileInterval + jitter);
        LogActivated(logger, this.GetPrimaryKeyString(), _epoch, _version);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_changed.Count > 0)
        {
            var (totals, version) = Current();
            ReportToParent(totals, version);
        }

        return Task.CompletedTask;
    }

    public Task ReportChild(ChildReport report) => Apply(report) ? FlushSoonAsync() : Task.CompletedTask;

    public Task<ChildReport> GetReport()
    {
        // Every change to a row is in _changed until a flush sums the rows again: without one, the
        // last flush's sums are current (parents ask their children on every reconciliation).
        var (totals, version) = _changed.Count > 0 ? Current() : (_totals, _version);
        return Task.FromResult(new ChildReport(_area.Code, version, totals, null));
    }

    public async Task<FeedSnapshot> GetSnapshot()
    {
        // A snapshot is the published document at exactly (epoch, seq); changes not yet published
        // follow as seq + 1 when their flush is due. Asking never publishes faster than the bound.
        Watched();
        await FlushIfDueAsync();
        return Snapshot();
    }

    public async Task<FeedCatchUp> CatchUp(string epoch, long seq)
    {
        Watched();
        await FlushIfDueAsync();
        if (epoch == _epoch && seq <= _seq && seq >= 0)
        {
            if (seq == _seq)
            {
                return new FeedCatchUp([], null);
            }

            if (_window.Count > 0 && _window.Peek().Seq <= seq + 1)
            {
                return new FeedCatchUp(_window.Where(d => d.Seq > seq).ToArray(), null);
            }
        }

        return new FeedCatchUp(null, Snapshot());
    }

    public async Task Reconcile(bool deep)
    {
        if (deep && !_unitsBelow)
        {
            await Task.WhenAll(_children.Select(c =>
                GrainFactory.GetGrain<IAreaGrain>(Keys.Compose(_election.Id, c.Code)).Reconcile(true)));
        }

        await PullChildrenAsync(CancellationToken.None);
        await FlushAsync();
    }

    private async Task ReconcileTick(CancellationToken cancellationToken)
    {
        await PullChildrenAsync(cancellationToken);
        if (_changed.Count > 0)
        {
            LogRepaired(logger, this.GetPrimaryKeyString(), _changed.Count);
            await FlushSoonAsync();
        }
    }

    /// <summary>Re-reads every child: a ward from the submission log directly, other areas from their child areas.</summary>
    private async Task PullChildrenAsync(CancellationToken cancellationToken)
    {
        if (_unitsBelow)
        {
            var rows = await log.ReadChildrenAsync(_election.Id, _area.Code, cancellationToken);
            UnitLedger? ledger = null;
            foreach (var row in rows)
            {
                if (ledger is null || ledger.Unit.Code != row.PollingUnit)
                {
                    if (ledger is not null)
                    {
                        Apply(ledger.Report());
                    }

                    if (!_index.TryGetValue(row.PollingUnit, out var i))
                    {
                        ledger = null;
                        continue;
                    }

                    ledger = new UnitLedger(_election, _children[i]);
                }

                ledger.Apply(row);
            }

            if (ledger is not null)
            {
                Apply(ledger.Report());
            }
        }
        else
        {
            var reports = await Task.WhenAll(_children.Select(c =>
                GrainFactory.GetGrain<IAreaGrain>(Keys.Compose(_election.Id, c.Code)).GetReport()));
            foreach (var report in reports)
            {
                Apply(report);
            }
        }
    }

    private bool Apply(ChildReport report)
    {
        if (!_index.TryGetValue(report.Code, out var i) || report.Version <= _rows[i].Version)
        {
            return false;
        }

        _rows[i] = report;
        _changed.Add(i);
        return true;
    }

    private (Tally Totals, long Version) Current()
    {
        long version = 0;
        foreach (var row in _rows)
        {
            version += row.Version;
        }

        return (TallyMath.Sum(_election.Parties.Count, _rows), version);
    }

    private Task FlushIfDueAsync() =>
        _changed.Count > 0 && time.GetUtcNow() - _lastFlush >= _options.FlushInterval ? FlushAsync() : Task.CompletedTask;

    private void Watched() => _watchedUntil = time.GetUtcNow() + _options.WatchLease;

    /// <summary>
    /// At most one flush per interval: at once when the last one is older than the interval (the
    /// common case when updates are spread out, and no timer is needed), else one trailing flush
    /// at the end of the interval that takes every change arrived meanwhile.
    /// </summary>
    private Task FlushSoonAsync()
    {
        if (_flushTimer is not null)
        {
            return Task.CompletedTask;
        }

        var since = time.GetUtcNow() - _lastFlush;
        if (since >= _options.FlushInterval)
        {
            return FlushAsync();
        }

        _flushTimer = this.RegisterGrainTimer(FlushTick, _options.FlushInterval - since, Timeout.InfiniteTimeSpan);
        return Task.CompletedTask;
    }

    private Task FlushTick(CancellationToken cancellationToken)
    {
        _flushTimer?.Dispose();
        _flushTimer = null;
        return FlushAsync();
    }

    private async Task FlushAsync()
    {
        if (_changed.Count == 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        var watched = now <= _watchedUntil;
        // Nobody watches: the parent still gets its report, but no delta is built, kept or sent
        // (a future watcher starts from a snapshot, and no client can hold a position to resume).
        foreach (var i in _changed)
        {
            _published[i] = _rows[i];
        }

        var changed = watched ? _changed.Order().Select(Row).ToArray() : null;
        _changed.Clear();
        (_totals, _version) = Current();
        _seq++;
        _updatedAt = now;
        _lastFlush = now;
        ReportToParent(_totals, _version);
        if (changed is null)
        {
            _window.Clear();
            return;
        }

        var delta = new FeedDelta(_election.Id, _area.Code, _epoch, _seq, _version, _totals, changed, _updatedAt);
        if (_options.DeltaWindow > 0)
        {
            _window.Enqueue(delta);
            while (_window.Count > _options.DeltaWindow)
            {
                _window.Dequeue();
            }
        }

        try
        {
            await _stream!.OnNextAsync(delta);
        }
        catch (Exception ex)
        {
            // Streams are at most once: a subscriber that misses this sees a gap and fetches a snapshot.
            LogPublishFailed(logger, ex, this.GetPrimaryKeyString(), _seq);
        }
    }

    private void ReportToParent(Tally totals, long version)
    {
        if (_area.Parent is { } parent)
        {
            _ = GrainFactory.GetGrain<IAreaGrain>(Keys.Compose(_election.Id, parent))
                .ReportChild(new ChildReport(_area.Code, version, totals, null));
        }
    }

    private FeedRow Row(int i) => new(_children[i].Code, _children[i].Name, _published[i].Version, _published[i].Tally, _published[i].UnitStatus);

    private FeedSnapshot Snapshot() => new(_election.Id, _area, _epoch, _seq, _version, _totals,
        Enumerable.Range(0, _rows.Length).Select(Row).ToArray(), _updatedAt,
        _election.ChildLevelOf(_area.Code) ?? "");

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Area {Area} active with epoch {Epoch} at version {Version}")]
    private static partial void LogActivated(ILogger logger, string area, string epoch, long version);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Area {Area}: reconciliation repaired {Children} child rows")]
    private static partial void LogRepaired(ILogger logger, string area, int children);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Area {Area}: publishing seq {Seq} failed; subscribers will repair the gap")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string area, long seq);
}
