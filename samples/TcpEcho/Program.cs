using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using ProcessCluster;
using TcpEcho;

// A line echo server on a cluster without ASP.NET Core: the same program is the primary (started by hand) and each
// worker (started by the primary). Settings as an app reads them: the environment (Cluster__Workers=4), then
// arguments (--Cluster:Scheduling=Shared); --urls lists the addresses, as for Kestrel (any scheme; only host and port count).
var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
var options = new ClusterOptions();
configuration.GetSection(ClusterOptions.SectionName).Bind(options);
var endpoints = ClusterEndpoint.ParseUrls([configuration["urls"] ?? "tcp://127.0.0.1:7000"]);
using var loggerFactory = LoggerFactory.Create(logging => logging.AddSimpleConsole(console => console.SingleLine = true));

return Cluster.IsPrimary
    ? await EchoPrimary.RunAsync(options, endpoints, loggerFactory)
    : await EchoWorker.RunAsync(options, endpoints, loggerFactory.CreateLogger("TcpEcho.Worker"));
