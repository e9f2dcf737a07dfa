using ProcessCluster.AspNetCore;
using ProcessCluster.GrpcApp;
using ProcessCluster.TestApp;

// HTTP/2 (h2c on an http URL, TLS on https) comes from the configuration: Kestrel:EndpointDefaults:Protocols and
// Kestrel:Certificates:Default, which every worker reads as a plain Kestrel app would.
StartRecord.Write();
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.UseCluster();
builder.Services.AddGrpc();
var app = builder.Build();
app.MapGrpcService<WorkerInfoService>();
app.Run();
