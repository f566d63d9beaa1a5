using System.Security.Claims;
using System.Text.Json;
using Tprcs.Contracts;
using Tprcs.Gateway.Auth;

namespace Tprcs.Gateway.Api;

public static partial class ApiEndpoints
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "A submission for {PollingUnit} failed before a receipt; the agent will retry")]
    private static partial void LogSubmitFailed(ILogger logger, Exception exception, string pollingUnit);

    /// <summary>Largest accepted submission body. A sheet is well under 2 KiB; anything near this is not a sheet.</summary>
    public const int MaxSubmissionBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapTprcsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/elections");
        api.MapGet("/", ListElections);
        api.MapGet("/{electionId}", GetElection);
        api.MapGet("/{electionId}/areas/{**areaCode}", GetArea);
        api.MapGet("/{electionId}/polling-units/{**unitCode}", GetPollingUnit);
        api.MapPost("/{electionId}/submissions", Submit)
            .RequireAuthorization(AgentAuthentication.SubmitPolicy);
        return app;
    }

    private static async Task<IResult> ListElections(ElectionDirectory elections) =>
        TypedResults.Ok((await elections.ListAsync()).Select(e => e.ToJson()).ToArray());

    private static async Task<IResult> GetElection(string electionId, ElectionDirectory elections) =>
        await elections.GetAsync(electionId) is { } e
            ? TypedResults.Ok(e.ToJson())
            : Problems.NotFound("electionId", $"Election '{electionId}' is not loaded.");

    private static async Task<IResult> GetArea(string electionId, string areaCode, ElectionDirectory elections, IClusterClient cluster)
    {
        if (await elections.GetAsync(electionId) is not { } election)
        {
            return Problems.NotFound("electionId", $"Election '{electionId}' is not loaded.");
        }

        var area = await elections.GetAreaAsync(electionId, areaCode);
        if (area is null)
        {
            return Problems.NotFound("areaCode", $"Area '{areaCode}' is not in election '{electionId}'.");
        }

        if (area.IsPollingUnit)
        {
            return Problems.Field(StatusCodes.Status404NotFound, "Not an area", "areaCode", "area-level",
                $"'{areaCode}' is a polling unit: read /api/v1/elections/{electionId}/polling-units/{areaCode}.");
        }

        var snapshot = await cluster.GetGrain<IAreaGrain>(Keys.Compose(electionId, areaCode)).GetSnapshot();
        return TypedResults.Ok(snapshot.ToJson(election.Parties.Select(p => p.Code).ToArray()));
    }

    private static async Task<IResult> GetPollingUnit(string electionId, string unitCode, ElectionDirectory elections, IClusterClient cluster)
    {
        if (await elections.GetAsync(electionId) is null)
        {
            return Problems.NotFound("electionId", $"Election '{electionId}' is not loaded.");
        }

        var unit = await elections.GetAreaAsync(electionId, unitCode);
        if (unit is not { IsPollingUnit: true })
        {
            return Problems.NotFound("unitCode", $"Polling unit '{unitCode}' is not in election '{electionId}'.");
        }

        var view = await cluster.GetGrain<IPollingUnitGrain>(Keys.Compose(electionId, unitCode)).GetView();
        return TypedResults.Ok(view.ToJson());
    }

    private static async Task<IResult> Submit(string electionId, HttpContext http, ClaimsPrincipal user,
        ElectionDirectory elections, IClusterClient cluster)
    {
        if (http.Request.ContentLength > MaxSubmissionBytes)
        {
            return SheetTooLarge();
        }

        SubmissionRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(new LimitedStream(http.Request.Body, MaxSubmissionBytes),
                ApiJsonContext.Default.SubmissionRequest, http.RequestAborted);
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : ex.Path.TrimStart('$', '.');
            return Problems.Field(StatusCodes.Status400BadRequest, "Malformed JSON", field, "json",
                $"The body is not a valid sheet at '{field}': {ex.Message}");
        }
        catch (LimitedStream.TooLargeException)
        {
            return SheetTooLarge();
        }

        if (request is null)
        {
            return Problems.Field(StatusCodes.Status400BadRequest, "Malformed JSON", "body", "required", "The body must be a JSON object.");
        }

        if (await elections.GetAsync(electionId) is null)
        {
            return Problems.NotFound("electionId", $"Election '{electionId}' is not loaded.");
        }

        var agent = user.FindFirstValue(AgentAuthentication.AgentClaim)!;
        var (command, errors) = request.ToCommand(electionId, agent);
        if (command is null)
        {
            return Problems.Fields(StatusCodes.Status422UnprocessableEntity, "Invalid sheet", errors);
        }

        SubmitOutcome outcome;
        try
        {
            outcome = await cluster.GetGrain<IPollingUnitGrain>(Keys.Compose(electionId, command.PollingUnit)).Submit(command);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whatever failed (a timeout, a lost silo, the log), no receipt went out: a retry with
            // the same submission id is safe and is answered with the stored receipt if it was kept.
            LogSubmitFailed(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Tprcs.Gateway.Api"), ex, command.PollingUnit);
            // Nothing is acknowledged: the agent retries with the same submission id and gets one copy.
            http.Response.Headers.RetryAfter = "2";
            return Problems.Unavailable("The sheet could not be confirmed as stored; retry with the same submissionId.");
        }

        return outcome.Kind switch
        {
            SubmitOutcomeKind.Created => TypedResults.Created(
                $"/api/v1/elections/{electionId}/polling-units/{command.PollingUnit}", outcome.Receipt!.ToJson()),
            SubmitOutcomeKind.Replayed => TypedResults.Ok(outcome.Receipt!.ToJson()),
            SubmitOutcomeKind.Conflict => Problems.Fields(StatusCodes.Status409Conflict, "Conflict", FieldErrors(outcome)),
            _ => Problems.Fields(StatusCodes.Status422UnprocessableEntity, "Invalid sheet", FieldErrors(outcome)),
        };
    }

    private static FieldErrorJson[] FieldErrors(SubmitOutcome outcome) =>
        outcome.Errors.Select(e => new FieldErrorJson(e.Field, e.Rule, e.Message)).ToArray();

    private static IResult SheetTooLarge() =>
        Problems.Field(StatusCodes.Status413PayloadTooLarge, "Sheet too large", "body", "size",
            $"A submission is at most {MaxSubmissionBytes} bytes.");
}
