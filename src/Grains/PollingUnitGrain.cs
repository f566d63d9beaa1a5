using Microsoft.Extensions.Logging;
using Tprcs.Contracts;
using Tprcs.Grains.Domain;
using Tprcs.Grains.Elections;
using Tprcs.Grains.Storage;

namespace Tprcs.Grains;

/// <summary>
/// One polling unit of one election. Its state is nothing but the unit's rows of the submission
/// log, replayed: a sheet is appended and committed before the state changes or a receipt goes out.
/// </summary>
public sealed partial class PollingUnitGrain(
    ElectionCatalog catalog,
    ISubmissionLog log,
    TimeProvider time,
    ILogger<PollingUnitGrain> logger) : Grain, IPollingUnitGrain
{
    private UnitLedger? _ledger;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var (electionId, code) = Keys.Split(this.GetPrimaryKeyString());
        if (catalog.TryGet(electionId, out var election) && election.TryGetArea(code, out var unit) && unit.IsPollingUnit)
        {
            _ledger = await LoadAsync(election, unit, cancellationToken);
        }
    }

    private async Task<UnitLedger> LoadAsync(Election election, AreaRef unit, CancellationToken cancellationToken)
    {
        var ledger = new UnitLedger(election, unit);
        foreach (var row in await log.ReadUnitAsync(election.Id, unit.Code, cancellationToken))
        {
            ledger.Apply(row);
        }

        return ledger;
    }

    public async Task<SubmitOutcome> Submit(SubmitSheet command)
    {
        if (_ledger is null)
        {
            return SubmitOutcome.Fail(SubmitOutcomeKind.UnknownUnit, new FieldError("pollingUnit", "unknown-unit",
                $"Polling unit '{command.PollingUnit}' is not in election '{command.ElectionId}'."));
        }

        var errors = SheetRules.Validate(command, _ledger.Election);
        if (errors.Count > 0)
        {
            return new SubmitOutcome(SubmitOutcomeKind.Invalid, null, [.. errors]);
        }

        var normalized = command with { Figures = SheetRules.Normalize(command.Figures, _ledger.Election) };
        var body = SubmissionRecord.Serialize(normalized);
        var hash = SubmissionRecord.Hash(body);

        // Two tries: the second only after another activation of this unit took our version (the
        // log's unique key refused it) and we reloaded the unit from the log.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            if (_ledger.TryGetReceipt(command.SubmissionId, out var earlier, out var earlierHash))
            {
                return earlierHash == hash
                    ? new SubmitOutcome(SubmitOutcomeKind.Replayed, earlier, [])
                    : SubmitOutcome.Fail(SubmitOutcomeKind.Conflict, new FieldError("submissionId", "idempotency",
                        $"Submission '{command.SubmissionId}' was already stored as version {earlier.Version} of '{earlier.PollingUnit}' with another body."));
            }

            if (command.AmendsVersion is { } amends && _ledger.CheckAmendment(amends) is { } amendmentError)
            {
                return SubmitOutcome.Fail(SubmitOutcomeKind.Conflict, amendmentError);
            }

            var record = new SubmissionRecord(_ledger.Election.Id, _ledger.Unit.Code, _ledger.Unit.Parent ?? "",
                _ledger.Version + 1, command.SubmissionId, command.Agent, ReceivedNow(), hash, normalized);
            var appended = await log.AppendAsync(record, body);
            switch (appended.Status)
            {
                case AppendStatus.Appended:
                    var receipt = _ledger.Apply(record);
                    LogStored(logger, _ledger.Election.Id, record.PollingUnit, record.Version, receipt.UnitStatus);
                    ReportToParent();
                    return new SubmitOutcome(SubmitOutcomeKind.Created, receipt, []);
                case AppendStatus.DuplicateSubmissionId when appended.ExistingUnit != _ledger.Unit.Code:
                    return SubmitOutcome.Fail(SubmitOutcomeKind.Conflict, new FieldError("submissionId", "idempotency",
                        $"Submission '{command.SubmissionId}' was already used for polling unit '{appended.ExistingUnit}'."));
                default:
                    _ledger = await LoadAsync(_ledger.Election, _ledger.Unit, CancellationToken.None);
                    break;
            }
        }

        throw new InvalidOperationException($"Polling unit '{_ledger.Unit.Code}' could not take a version after reloading from the log.");
    }

    /// <summary>
    /// Now, at microsecond precision in UTC: what every log provider stores exactly, so that a unit
    /// rebuilt from the log gives receipts equal to the ones first sent.
    /// </summary>
    private DateTimeOffset ReceivedNow()
    {
        var ticks = time.GetUtcNow().UtcTicks;
        return new DateTimeOffset(ticks - (ticks % 10), TimeSpan.Zero);
    }

    private void ReportToParent()
    {
        if (_ledger!.Unit.Parent is { } parent)
        {
            // One-way: the unit never waits on its area, and a lost report is repaired by the
            // area's reconciliation from the log.
            _ = GrainFactory.GetGrain<IAreaGrain>(Keys.Compose(_ledger.Election.Id, parent)).ReportChild(_ledger.Report());
        }
    }

    public Task<PollingUnitView> GetView() =>
        _ledger is null
            ? throw new KeyNotFoundException($"'{this.GetPrimaryKeyString()}' is not a polling unit of a loaded election.")
            : Task.FromResult(_ledger.View());

    public Task<ChildReport> GetReport() =>
        _ledger is null
            ? throw new KeyNotFoundException($"'{this.GetPrimaryKeyString()}' is not a polling unit of a loaded election.")
            : Task.FromResult(_ledger.Report());

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Stored {ElectionId}/{PollingUnit} version {Version}: unit is {Status}")]
    private static partial void LogStored(ILogger logger, string electionId, string pollingUnit, int version, UnitStatus status);
}
