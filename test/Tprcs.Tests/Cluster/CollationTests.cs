using System.Collections.Concurrent;
using Tprcs.Contracts;
using Tprcs.Tests.Domain;

namespace Tprcs.Tests.Cluster;

[Collection(ClusterCollection.Name)]
public class CollationTests(ClusterFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;
    private string Election => fixture.Election.Id;

    private static SubmitSheet Command(string election, string unit, SheetFigures figures, string id, string agent = "agent-1",
        int? amends = null, string? reason = null) =>
        new(id, election, unit, agent, figures, null, null, null, null, amends, reason);

    [Fact]
    public async Task Thousands_of_sheets_with_repeats_amendments_and_conflicts_add_up_exactly_at_every_level()
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var units = LogOracle.AllUnits(fixture.Election).OrderBy(_ => random.Next()).Take(2_000).ToArray();
        var created = 0;
        var replayed = 0;
        await Parallel.ForEachAsync(units.Select((u, i) => (u, i)), new ParallelOptions { MaxDegreeOfParallelism = 24 }, async (item, _) =>
        {
            var (unit, index) = item;
            var gen = new SheetGenerator(fixture.Election, seed + index);
            var grain = _client.Unit(Election, unit.Code);
            var prefix = $"r{seed}-{index}";
            var first = gen.Good(unit);
            var roll = gen.Next(100);
            first = roll switch
            {
                < 5 => gen.OverVoted(first),
                < 10 => gen.ArithmeticError(first),
                _ => first,
            };

            async Task Send(SubmitSheet command, SubmitOutcomeKind expected)
            {
                var outcome = await grain.Submit(command);
                Assert.True(expected == outcome.Kind, $"seed {seed}: {command.SubmissionId} on {unit.Code}: {outcome.Kind} {string.Join("; ", outcome.Errors.Select(e => e.Message))}");
                if (expected == SubmitOutcomeKind.Created)
                {
                    Interlocked.Increment(ref created);
                }
                else
                {
                    Interlocked.Increment(ref replayed);
                }
            }

            await Send(Command(Election, unit.Code, first, $"{prefix}-a"), SubmitOutcomeKind.Created);
            var second = gen.Next(100);
            if (second < 15)
            {
                await Send(Command(Election, unit.Code, first, $"{prefix}-b", agent: "agent-2"), SubmitOutcomeKind.Created);
            }
            else if (second < 30)
            {
                await Send(Command(Election, unit.Code, gen.Differing(first), $"{prefix}-b", agent: "agent-2"), SubmitOutcomeKind.Created);
                if (gen.Next(2) == 0)
                {
                    await Send(Command(Election, unit.Code, first, $"{prefix}-c", agent: "agent-2", amends: 2, reason: "copied wrongly"), SubmitOutcomeKind.Created);
                }
            }

            if (gen.Next(100) < 10)
            {
                await Send(Command(Election, unit.Code, first, $"{prefix}-a"), SubmitOutcomeKind.Replayed);
            }
        });

        var log = fixture.Cluster.Log();
        var expected = await LogOracle.ComputeAsync(log, fixture.Election);
        var root = _client.Area(Election, fixture.Election.Root.Code);
        var rootVersion = expected.Rows;
        await Wait.UntilAsync(async () => (await root.GetReport()).Version == rootVersion, TimeSpan.FromSeconds(60),
            $"the national feed reaching version {rootVersion} (every stored sheet counted in; seed {seed})");

        foreach (var area in LogOracle.AllAreas(fixture.Election))
        {
            var snapshot = await _client.Area(Election, area.Code).GetSnapshot();
            LogOracle.AssertMatches(expected, fixture.Election, snapshot);
        }

        Assert.True(created >= 2_000, $"seed {seed}: only {created} sheets were created");
    }

    [Fact]
    public async Task A_replay_gets_the_same_receipt_and_another_body_under_the_same_id_is_a_conflict()
    {
        var units = LogOracle.AllUnits(fixture.Election).TakeLast(2).ToArray();
        var id = "idem-" + Guid.NewGuid().ToString("N");
        var grain = _client.Unit(Election, units[0].Code);
        var first = await grain.Submit(Command(Election, units[0].Code, Sheets.Good(), id));
        var again = await grain.Submit(Command(Election, units[0].Code, Sheets.Good(), id));
        var other = await grain.Submit(Command(Election, units[0].Code, Sheets.Good(apc: 101), id));
        var elsewhere = await _client.Unit(Election, units[1].Code).Submit(Command(Election, units[1].Code, Sheets.Good(), id));

        Assert.Equal(SubmitOutcomeKind.Created, first.Kind);
        Assert.Equal(SubmitOutcomeKind.Replayed, again.Kind);
        Assert.Equal(first.Receipt!.Version, again.Receipt!.Version);
        Assert.Equal(first.Receipt.ReceivedAt, again.Receipt.ReceivedAt);
        Assert.Equal(SubmitOutcomeKind.Conflict, other.Kind);
        Assert.Equal(("submissionId", "idempotency"), (other.Errors[0].Field, other.Errors[0].Rule));
        Assert.Equal(SubmitOutcomeKind.Conflict, elsewhere.Kind);
        Assert.Contains(units[0].Code, elsewhere.Errors[0].Message);
        Assert.Single((await grain.GetView()).Copies, c => c.SubmissionId == id);
    }

    [Fact]
    public async Task Malformed_sheets_and_unknown_units_change_nothing()
    {
        var unit = LogOracle.AllUnits(fixture.Election).Skip(3).First();
        var grain = _client.Unit(Election, unit.Code);
        var before = await grain.GetView();
        var invalid = await grain.Submit(Command(Election, unit.Code, Sheets.Good() with { Rejected = -4 }, "bad-" + Guid.NewGuid().ToString("N")));
        var unknown = await _client.Unit(Election, "ED/99/99/999").Submit(Command(Election, "ED/99/99/999", Sheets.Good(), "x-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(SubmitOutcomeKind.Invalid, invalid.Kind);
        Assert.Equal("rejected", invalid.Errors[0].Field);
        Assert.Equal(SubmitOutcomeKind.UnknownUnit, unknown.Kind);
        Assert.Equal(before.Version, (await grain.GetView()).Version);
    }

    [Fact]
    public async Task An_area_ignores_child_reports_older_than_the_one_it_holds()
    {
        // The mini election is loaded from a file beside the Edo sample: elections side by side.
        var ward = _client.Area(MiniElection.Id, "X/1/1");
        var empty = (await ward.GetSnapshot()).Rows.Single(r => r.Code == "X/1/1/1").Tally;
        var newer = empty with { Votes = [7, 0], UnitsReported = 1 };
        var older = empty with { Votes = [3, 0], UnitsReported = 1 };
        await ward.ReportChild(new ChildReport("X/1/1/1", 10, newer, UnitStatus.Counted));
        await ward.ReportChild(new ChildReport("X/1/1/1", 9, older, UnitStatus.Counted));
        await Wait.UntilAsync(async () => (await ward.GetSnapshot()).Version >= 10, TimeSpan.FromSeconds(10), "the ward publishing version 10");
        var snapshot = await ward.GetSnapshot();
        Assert.Equal([7L, 0L], snapshot.Rows.Single(r => r.Code == "X/1/1/1").Tally.Votes);
        Assert.Equal([7L, 0L], snapshot.Totals.Votes);
    }

    [Fact]
    public async Task The_root_of_the_hierarchy_and_every_level_serve_documents()
    {
        // IReV 2023's lesson: exercise the root and every level, not only the lower ones.
        var election = fixture.Election;
        var lga = election.ChildrenOf(election.Root.Code)[^1];
        var ward = election.ChildrenOf(lga.Code)[^1];
        foreach (var area in new[] { election.Root, lga, ward })
        {
            var snapshot = await _client.Area(Election, area.Code).GetSnapshot();
            Assert.Equal(election.ChildrenOf(area.Code).Count, snapshot.Rows.Length);
            Assert.Equal(area.RegisteredVoters, snapshot.Totals.RegisteredVoters);
        }
    }
}
