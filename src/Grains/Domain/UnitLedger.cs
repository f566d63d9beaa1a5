using Tprcs.Contracts;
using Tprcs.Grains.Elections;
using Tprcs.Grains.Storage;

namespace Tprcs.Grains.Domain;

/// <summary>
/// Every copy of one polling unit's sheet, in version order, and the counted result derived from
/// them. Pure and deterministic: replaying the same log rows always gives the same state, the same
/// receipts and the same report, which is what lets areas and units be rebuilt from the log.
/// </summary>
/// <remarks>
/// The counted result (documented in docs/rules.md):
/// 1. The current copies are those no amendment has replaced.
/// 2. Current copies are compared field by field; any difference is a copy conflict and the unit is
///    not counted until the copies agree (a further amendment or copy settles it).
/// 3. Otherwise the agreed sheet's flags decide: over-voting cancels the unit, accredited over
///    registered holds it for review, an arithmetic or ballot-accounting flag keeps it out; a sheet
///    with none of these is counted.
/// </remarks>
public sealed class UnitLedger
{
    private readonly List<Entry> _entries = [];
    private readonly Dictionary<string, int> _bySubmissionId = new(StringComparer.Ordinal);
    private readonly Dictionary<int, int> _replacedBy = [];

    public UnitLedger(Election election, AreaRef unit)
    {
        Election = election;
        Unit = unit;
        Status = UnitStatus.Missing;
        Flags = [];
        ConflictFields = [];
        Tally = TallyMath.Empty(election.Parties.Count, unit.RegisteredVoters, 1);
    }

    public Election Election { get; }
    public AreaRef Unit { get; }
    public int Version => _entries.Count;
    public UnitStatus Status { get; private set; }
    public SheetFigures? Result { get; private set; }
    public string[] Flags { get; private set; }
    public string[] ConflictFields { get; private set; }
    public Tally Tally { get; private set; }
    public DateTimeOffset? FirstReportedAt => _entries.Count == 0 ? null : _entries[0].Record.ReceivedAt;
    public DateTimeOffset? LastUpdatedAt => _entries.Count == 0 ? null : _entries[^1].Record.ReceivedAt;

    private sealed record Entry(SubmissionRecord Record, string[] Flags, SubmissionReceipt Receipt);

    public bool TryGetReceipt(string submissionId, out SubmissionReceipt receipt, out string bodyHash)
    {
        if (_bySubmissionId.TryGetValue(submissionId, out var index))
        {
            receipt = _entries[index].Receipt;
            bodyHash = _entries[index].Record.BodyHash;
            return true;
        }

        receipt = null!;
        bodyHash = "";
        return false;
    }

    /// <summary>Why an amendment of <paramref name="version"/> cannot be taken, or null when it can.</summary>
    public FieldError? CheckAmendment(int version)
    {
        if (version > _entries.Count)
        {
            return new FieldError("amends.version", "amendment-target",
                $"Polling unit '{Unit.Code}' has no version {version} (its latest is {_entries.Count}).");
        }

        var by = ReplacedBy(version);
        return by == 0
            ? null
            : new FieldError("amends.version", "amendment-target",
                $"Version {version} of polling unit '{Unit.Code}' was already replaced by version {by}.");
    }

    /// <summary>Takes the next version (it must be <see cref="Version"/> + 1) and re-derives the counted result.</summary>
    public SubmissionReceipt Apply(SubmissionRecord record)
    {
        if (record.Version != _entries.Count + 1)
        {
            throw new InvalidOperationException(
                $"Polling unit '{Unit.Code}' expected version {_entries.Count + 1}, got {record.Version}.");
        }

        var flags = SheetRules.Check(record.Sheet.Figures, Unit.RegisteredVoters);
        var placeholder = new Entry(record, flags, null!);
        _entries.Add(placeholder);
        if (record.Sheet.AmendsVersion is { } replaced)
        {
            _replacedBy[replaced] = record.Version;
        }

        Derive();
        var receipt = new SubmissionReceipt(record.SubmissionId, Election.Id, Unit.Code, record.Version,
            Counted: Status == UnitStatus.Counted && Result is not null && IsCurrent(record.Version),
            flags, Status, record.ReceivedAt, record.Sheet.AmendsVersion);
        _entries[^1] = placeholder with { Receipt = receipt };
        _bySubmissionId[record.SubmissionId] = _entries.Count - 1;
        return receipt;
    }

    public ChildReport Report() => new(Unit.Code, Version, Tally, Status);

    public PollingUnitView View()
    {
        var copies = new SheetCopy[_entries.Count];
        for (var i = 0; i < copies.Length; i++)
        {
            var e = _entries[i];
            var s = e.Record.Sheet;
            var by = ReplacedBy(e.Record.Version);
            copies[i] = new SheetCopy(e.Record.Version, e.Record.SubmissionId, e.Record.Agent, e.Record.ReceivedAt,
                s.CapturedAt, s.Figures, e.Flags, s.AmendsVersion, s.AmendReason, by == 0 ? null : by, s.Comment,
                s.PhotoSha256, s.PhotoUrl);
        }

        return new PollingUnitView(Election.Id, Unit, Version, Status, Result, Flags, ConflictFields, copies,
            FirstReportedAt, LastUpdatedAt);
    }

    private int ReplacedBy(int version) => _replacedBy.GetValueOrDefault(version);

    private bool IsCurrent(int version) => ReplacedBy(version) == 0;

    private void Derive()
    {
        var current = new List<Entry>(2);
        foreach (var e in _entries)
        {
            if (IsCurrent(e.Record.Version))
            {
                current.Add(e);
            }
        }

        var conflicts = current.Count > 1 ? DifferingFields(current) : [];
        var flags = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var e in current)
        {
            flags.UnionWith(e.Flags);
        }

        if (conflicts.Length > 0)
        {
            flags.Add(SheetFlags.CopyConflict);
        }

        Flags = [.. flags];
        ConflictFields = conflicts;
        if (current.Count == 0)
        {
            // Every version was replaced: impossible, since an amendment is itself current.
            Status = UnitStatus.Missing;
            Result = null;
        }
        else if (conflicts.Length > 0)
        {
            Status = UnitStatus.Conflict;
            Result = null;
        }
        else
        {
            var agreed = current[^1];
            Status = SheetRules.StatusOf(agreed.Flags);
            Result = agreed.Record.Sheet.Figures;
        }

        Tally = BuildTally();
    }

    private Tally BuildTally()
    {
        var parties = Election.Parties.Count;
        var register = Unit.RegisteredVoters;
        var counted = Status == UnitStatus.Counted;
        var votes = new long[parties];
        if (counted)
        {
            var figures = Result!.Votes;
            for (var i = 0; i < parties; i++)
            {
                votes[i] = figures[i].Votes;
            }
        }

        var f = Flags;
        int Has(string flag) => Array.IndexOf(f, flag) >= 0 ? 1 : 0;
        return new Tally(
            votes,
            register,
            counted ? Result!.AccreditedVoters : 0,
            counted ? Result!.Rejected : 0,
            counted ? Result!.TotalValid : 0,
            counted ? Result!.TotalCast : 0,
            UnitsTotal: 1,
            UnitsReported: _entries.Count > 0 ? 1 : 0,
            UnitsCounted: counted ? 1 : 0,
            UnitsCancelled: Status == UnitStatus.Cancelled ? 1 : 0,
            RegisteredCovered: counted ? register : 0,
            RegisteredCancelled: Status == UnitStatus.Cancelled ? register : 0,
            new FlagCounts(Has(SheetFlags.OverVoting), Has(SheetFlags.AccreditedOverRegistered),
                Has(SheetFlags.CastArithmetic), Has(SheetFlags.ValidArithmetic), Has(SheetFlags.BallotAccounting),
                Has(SheetFlags.RegisteredMismatch), Has(SheetFlags.CopyConflict)));
    }

    /// <summary>Rule 8: the names of the fields in which the current copies differ (JSON field names).</summary>
    private static string[] DifferingFields(List<Entry> current)
    {
        var fields = new List<string>();
        var first = current[0].Record.Sheet.Figures;
        void Compare<T>(string name, Func<SheetFigures, T> get)
        {
            var a = get(first);
            for (var i = 1; i < current.Count; i++)
            {
                if (!EqualityComparer<T>.Default.Equals(a, get(current[i].Record.Sheet.Figures)))
                {
                    fields.Add(name);
                    return;
                }
            }
        }

        Compare("registeredVoters", x => x.RegisteredVoters);
        Compare("accreditedVoters", x => x.AccreditedVoters);
        Compare("ballots.issued", x => x.BallotsIssued);
        Compare("ballots.spoilt", x => x.BallotsSpoilt);
        Compare("ballots.unused", x => x.BallotsUnused);
        Compare("rejected", x => x.Rejected);
        for (var p = 0; p < first.Votes.Length; p++)
        {
            var index = p;
            Compare($"votes.{first.Votes[p].Party}", x => x.Votes[index].Votes);
        }

        Compare("totalValid", x => x.TotalValid);
        Compare("totalCast", x => x.TotalCast);
        return [.. fields];
    }
}
