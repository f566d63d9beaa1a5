using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Tprcs.Gateway.Auth;

/// <summary>
/// Agents' bearer tokens (section <c>Tprcs:Agents</c>): each token maps to an agent id, which is
/// stored with every sheet. Permissions hang off the policies registered here: the place where a
/// fuller model (agents bound to units, analysts, admins) plugs in.
/// </summary>
public sealed class AgentTokenOptions : AuthenticationSchemeOptions
{
    public const string Section = "Tprcs:Agents";

    /// <summary>Token → agent id. Default: empty (no agent can submit). The embedded default's appsettings.json ships a development token.</summary>
    public Dictionary<string, string> Tokens { get; set; } = [];
}

public static class AgentAuthentication
{
    public const string Scheme = "AgentToken";
    public const string AgentClaim = "tprcs:agent";
    public const string SubmitPolicy = "submit-sheets";

    public static WebApplicationBuilder AddTprcsAuth(this WebApplicationBuilder builder)
    {
        builder.Services.AddAuthentication(Scheme)
            .AddScheme<AgentTokenOptions, AgentTokenHandler>(Scheme, o =>
                builder.Configuration.GetSection(AgentTokenOptions.Section).Bind(o));
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(SubmitPolicy, p => p.AddAuthenticationSchemes(Scheme).RequireClaim(AgentClaim));
        return builder;
    }
}

public sealed class AgentTokenHandler(IOptionsMonitor<AgentTokenOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AgentTokenOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var token = Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim());
        foreach (var (known, agent) in Options.Tokens)
        {
            // Constant-time comparison: the time taken says nothing about how much of a token matched.
            if (CryptographicOperations.FixedTimeEquals(token, Encoding.UTF8.GetBytes(known)))
            {
                var identity = new ClaimsIdentity([new Claim(AgentAuthentication.AgentClaim, agent), new Claim(ClaimTypes.Name, agent)], AgentAuthentication.Scheme);
                return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), AgentAuthentication.Scheme)));
            }
        }

        return Task.FromResult(AuthenticateResult.Fail("Unknown bearer token."));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        await TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
            type: "urn:tprcs:problem:authentication",
            detail: "Send 'Authorization: Bearer <agent token>'; the token must be one the gateway knows.",
            extensions: new Dictionary<string, object?>
            {
                ["errors"] = new[] { new Api.FieldErrorJson("authorization", "bearer-token", "A valid agent bearer token is required.") },
            }).ExecuteAsync(Context);
    }
}
