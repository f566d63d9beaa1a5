using Tprcs.Bench;

// Benchmarks are programs that print their figures (docs/benchmarks.md), not timed tests.
var command = args.FirstOrDefault();
var options = BenchOptions.Parse(args.Skip(1).ToArray());
return command switch
{
    "ingest" => await IngestBenchmark.RunAsync(options),
    "sdk-parse" => SdkParseBenchmark.Run(args.Skip(1).FirstOrDefault() is { } n && int.TryParse(n, out var count) ? count : 20_000),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project tools/Tprcs.Bench -- sdk-parse [ITERATIONS]
          the SDK's cost per received message: its own reader against the source-generated serializer
        usage: dotnet run -c Release --project tools/Tprcs.Bench -- ingest [options]
          --shape nigeria|edo     election to generate and load (default nigeria)
          --concurrency N         HTTP requests in flight (default 64)
          --limit N               submit only the first N units (default: all)
          --gateway-dll PATH      gateway to start (default: the Release build under src/Gateway)
          --url URL               use a running gateway instead of starting one (it must load the same election)
        """);
    return 2;
}
