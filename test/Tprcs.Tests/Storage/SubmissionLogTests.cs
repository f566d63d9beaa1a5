using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tprcs.Grains.Storage;
using Tprcs.Tests.Domain;

namespace Tprcs.Tests.Storage;

/// <summary>The same contract for every log provider.</summary>
public abstract class SubmissionLogContract
{
    protected abstract AdoSubmissionLog Create();

    private static int _unit;

    private static (SubmissionRecord Record, byte[] Body) Row(string unit, int version, string? id = null)
    {
        var record = Sheets.Record(Sheets.Submit(unit, Sheets.Good(apc: version), id: id ?? Guid.NewGuid().ToString("N")), version) with
        {
            ReceivedAt = new DateTimeOffset(2026, 12, 4, 16, 0, 0, TimeSpan.Zero).AddTicks(123_4560 + version * 10),
        };
        return (record, SubmissionRecord.Serialize(record.Sheet));
    }

    private static string NextUnit()
    {
        var units = Cluster.LogOracle.AllUnits(Sheets.Edo).ToArray();
        return units[Interlocked.Increment(ref _unit) % units.Length].Code;
    }

    [Fact]
    public async Task Rows_come_back_exactly_as_written_in_version_order()
    {
        var unit = NextUnit();
        await using var log = Create();
        var written = new List<SubmissionRecord>();
        for (var v = 1; v <= 3; v++)
        {
            var (record, body) = Row(unit, v);
            Assert.Equal(AppendStatus.Appended, (await log.AppendAsync(record, body)).Status);
            written.Add(record);
        }

        var read = await log.ReadUnitAsync(Sheets.Edo.Id, unit);
        Assert.Equal(written.Select(r => (r.Version, r.SubmissionId, r.ReceivedAt, r.BodyHash, r.Agent, r.ParentArea)),
            read.Select(r => (r.Version, r.SubmissionId, r.ReceivedAt, r.BodyHash, r.Agent, r.ParentArea)));
        Assert.Equal(written[2].Sheet.Figures.Votes.Select(v => v.Votes), read[2].Sheet.Figures.Votes.Select(v => v.Votes));
        Assert.Contains(await log.ReadChildrenAsync(Sheets.Edo.Id, written[0].ParentArea), r => r.SubmissionId == written[1].SubmissionId);
    }

    [Fact]
    public async Task A_submission_id_is_taken_once_per_election_and_a_version_once_per_unit()
    {
        var unit = NextUnit();
        var other = NextUnit();
        await using var log = Create();
        var (first, body) = Row(unit, 1, id: "dup-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(AppendStatus.Appended, (await log.AppendAsync(first, body)).Status);

        var (sameId, body2) = Row(other, 1, id: first.SubmissionId);
        var duplicate = await log.AppendAsync(sameId, body2);
        Assert.Equal((AppendStatus.DuplicateSubmissionId, unit), (duplicate.Status, duplicate.ExistingUnit));

        var (sameVersion, body3) = Row(unit, 1);
        Assert.Equal(AppendStatus.VersionTaken, (await log.AppendAsync(sameVersion, body3)).Status);
        Assert.Single(await log.ReadUnitAsync(Sheets.Edo.Id, unit));
        Assert.Empty(await log.ReadUnitAsync(Sheets.Edo.Id, other));
    }

    [Fact]
    public async Task Concurrent_appends_are_grouped_and_every_one_survives_a_reopen()
    {
        var units = Enumerable.Range(0, 200).Select(_ => NextUnit()).Distinct().ToArray();
        var ids = new List<string>();
        await using (var log = Create())
        {
            var rows = units.Select(u => Row(u, 1)).ToArray();
            var results = await Task.WhenAll(rows.Select(r => log.AppendAsync(r.Record, r.Body)));
            Assert.All(results, r => Assert.Equal(AppendStatus.Appended, r.Status));
            ids.AddRange(rows.Select(r => r.Record.SubmissionId));
        }

        await using var reopened = Create();
        var stored = new HashSet<string>();
        await foreach (var row in reopened.ReadAllAsync(Sheets.Edo.Id))
        {
            stored.Add(row.SubmissionId);
        }

        Assert.Subset(stored, ids.ToHashSet());
    }
}

public sealed class SqliteSubmissionLogTests : SubmissionLogContract
{
    private readonly string _dir = Support.TestGateway.NewDataDirectory();

    protected override AdoSubmissionLog Create() =>
        new SqliteSubmissionLog(Options.Create(new SubmissionLogOptions { DataDirectory = _dir }), NullLogger<SqliteSubmissionLog>.Instance);
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresSubmissionLogTests(PostgresServer server) : SubmissionLogContract
{
    protected override AdoSubmissionLog Create() =>
        new PostgresSubmissionLog(Options.Create(new SubmissionLogOptions
        {
            Provider = SubmissionLogProvider.Postgres,
            PostgresConnectionString = server.ConnectionString,
        }), NullLogger<PostgresSubmissionLog>.Instance);
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresReconnectTests(PostgresServer server)
{
    [Fact]
    public async Task The_writer_survives_the_database_dropping_its_connections()
    {
        await using var log = new PostgresSubmissionLog(Options.Create(new SubmissionLogOptions
        {
            Provider = SubmissionLogProvider.Postgres,
            PostgresConnectionString = server.ConnectionString,
        }), NullLogger<PostgresSubmissionLog>.Instance);
        var unit = Cluster.LogOracle.AllUnits(Sheets.Edo).Skip(4_000).First().Code;
        async Task<AppendStatus> AppendAsync(int version)
        {
            var record = Sheets.Record(Sheets.Submit(unit, Sheets.Good(apc: version), id: Guid.NewGuid().ToString("N")), version);
            return (await log.AppendAsync(record, SubmissionRecord.Serialize(record.Sheet))).Status;
        }

        Assert.Equal(AppendStatus.Appended, await AppendAsync(1));

        // A failover, a restart or a proxy closing idle connections: every session is cut.
        await using (var admin = new Npgsql.NpgsqlConnection(server.ConnectionString))
        {
            await admin.OpenAsync();
            await using var kill = admin.CreateCommand();
            kill.CommandText = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()";
            await kill.ExecuteNonQueryAsync();
        }

        // The batch on a cut connection may fail (nothing stored, the caller retries); the writer goes on.
        var appended = false;
        for (var attempt = 0; attempt < 3 && !appended; attempt++)
        {
            try
            {
                appended = await AppendAsync(2) == AppendStatus.Appended;
            }
            catch (Npgsql.NpgsqlException)
            {
            }
        }

        Assert.True(appended, "the log never accepted a row again after its connections were cut");
        Assert.Equal([1, 2], (await log.ReadUnitAsync(Sheets.Edo.Id, unit)).Select(r => r.Version));
    }
}
