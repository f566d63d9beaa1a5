namespace Tprcs.Bench;

public sealed record BenchOptions(string Shape, int Concurrency, int? Limit, string? GatewayDll, string? Url)
{
    public static BenchOptions Parse(string[] args)
    {
        string Get(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        return new BenchOptions(
            Get("--shape", "nigeria"),
            int.Parse(Get("--concurrency", "64")),
            args.Contains("--limit") ? int.Parse(Get("--limit", "0")) : null,
            args.Contains("--gateway-dll") ? Get("--gateway-dll", "") : null,
            args.Contains("--url") ? Get("--url", "") : null);
    }
}
