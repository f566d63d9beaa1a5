namespace Tprcs.Gateway.Api;

/// <summary>RFC 9457 problem details that name the field and the rule.</summary>
public static class Problems
{
    public static IResult Fields(int status, string title, IReadOnlyList<FieldErrorJson> errors) =>
        TypedResults.Problem(
            statusCode: status,
            title: title,
            type: $"urn:tprcs:problem:{(errors.Count > 0 ? errors[0].Rule : "error")}",
            detail: string.Join(" ", errors.Select(e => e.Message)),
            extensions: new Dictionary<string, object?> { ["errors"] = errors.ToArray() });

    public static IResult Field(int status, string title, string field, string rule, string message) =>
        Fields(status, title, [new FieldErrorJson(field, rule, message)]);

    public static IResult NotFound(string field, string message) =>
        Field(StatusCodes.Status404NotFound, "Not found", field, "exists", message);

    public const string UnavailableType = "urn:tprcs:problem:unavailable";
    public const string UnavailableTitle = "Cluster unavailable";

    public static IResult Unavailable(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: UnavailableTitle,
            type: UnavailableType, detail: detail);
}
