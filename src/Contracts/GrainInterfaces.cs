using Orleans.Concurrency;

namespace Tprcs.Contracts;

/// <summary>Read-only view of the elections loaded on the cluster. Key: 0.</summary>
[Alias("tprcs.IElectionDirectoryGrain")]
public interface IElectionDirectoryGrain : IGrainWithIntegerKey
{
    [Alias("List")]
    Task<ElectionSummary[]> ListElections();

    [Alias("Get")]
    Task<ElectionSummary?> GetElection(string electionId);

    [Alias("Area")]
    Task<AreaRef?> GetArea(string electionId, string code);
}

/// <summary>One polling unit of one election. Key: "{election}/{unit}".</summary>
[Alias("tprcs.IPollingUnitGrain")]
public interface IPollingUnitGrain : IGrainWithStringKey
{
    [Alias("Submit")]
    Task<SubmitOutcome> Submit(SubmitSheet command);

    [Alias("View")]
    Task<PollingUnitView> GetView();

    [Alias("Report")]
    Task<ChildReport> GetReport();
}

/// <summary>An area (ward, LGA, state, nation...) of one election. Key: "{election}/{area}".</summary>
[Alias("tprcs.IAreaGrain")]
public interface IAreaGrain : IGrainWithStringKey
{
    /// <summary>A child's absolute figures. One-way so that a child never waits on its parent (no call cycles).</summary>
    [OneWay, Alias("ReportChild")]
    Task ReportChild(ChildReport report);

    [Alias("Report")]
    Task<ChildReport> GetReport();

    [Alias("Snapshot")]
    Task<FeedSnapshot> GetSnapshot();

    /// <summary>Deltas after (epoch, seq), or a snapshot when the position is not in the recent window.</summary>
    [Alias("CatchUp")]
    Task<FeedCatchUp> CatchUp(string epoch, long seq);

    /// <summary>Re-reads every child (and, when deep, has every descendant area do the same first); publishes if anything changed.</summary>
    [Alias("Reconcile")]
    Task Reconcile(bool deep);
}

/// <summary>One gateway node as it announces itself to the cluster.</summary>
[GenerateSerializer, Immutable, Alias("tprcs.GatewayNode")]
public sealed record GatewayNode(
    [property: Id(0)] string NodeId,
    [property: Id(1)] string Url,
    [property: Id(2)] int Connections,
    [property: Id(3)] double AdmissionPerSecond,
    [property: Id(4)] bool Draining);

/// <summary>
/// The gateway nodes serving the cluster. Each node announces itself every few seconds; a node not
/// heard from within the expiry is dropped. Key: 0.
/// </summary>
[Alias("tprcs.IGatewayRegistryGrain")]
public interface IGatewayRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Records the node and returns every live node (itself included).</summary>
    [Alias("Announce")]
    Task<GatewayNode[]> Announce(GatewayNode node);

    [Alias("Leave")]
    Task Leave(string nodeId);
}
