using System.ComponentModel;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;
using ProcessCluster.Worker;

namespace ProcessCluster.TestApp;

/// <summary>
/// A worker that attacks its primary (issue 12): the one whose id is HOSTILE_WORKER_ID reads the PROCESSCLUSTER_*
/// environment as a real worker does, connects to the channel and misbehaves as HOSTILE_MODE says, then waits for
/// the primary to close the channel and exits; the other workers are the app. It says what it did on stderr
/// ("hostile worker N: MODE ..."), which the primary relays.
/// </summary>
internal static class HostileWorker
{
    public const string ModeVariable = "HOSTILE_MODE";
    public const string IdVariable = "HOSTILE_WORKER_ID";

    private static readonly TimeSpan FloodTime = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan SitStillTime = TimeSpan.FromSeconds(60);

    /// <summary>Every mode, and what it sends: before the handshake (the primary refuses the connection) or after it (the primary drops the channel).</summary>
    public static readonly IReadOnlyDictionary<string, Action<Socket, WorkerEnvironment>> Modes = new Dictionary<string, Action<Socket, WorkerEnvironment>>
    {
        ["hello-null-secret"] = (socket, worker) => Send(socket, FrameType.Hello, $$"""{"WorkerId":{{worker.WorkerId}},"Secret":null}"""),
        ["hello-missing-fields"] = (socket, _) => Send(socket, FrameType.Hello, "{}"),
        ["hello-wrong-types"] = (socket, worker) => Send(socket, FrameType.Hello, $$"""{"WorkerId":"{{worker.WorkerId}}","Secret":42}"""),
        ["oversized"] = (socket, _) => SendHeader(socket, FrameType.Hello, int.MaxValue),
        ["truncated"] = (socket, _) =>
        {
            SendHeader(socket, FrameType.Hello, 100);
            socket.Send("{\"WorkerId\""u8);
            socket.Shutdown(SocketShutdown.Send);
        },
        ["connect-twice"] = (socket, worker) =>
        {
            Handshake(socket, worker);
            using var second = Connect(worker);
            Handshake(second, worker);
        },
        ["listening-null"] = AfterHandshake((socket, _) => Send(socket, FrameType.Listening, """{"Addresses":null}""")),
        ["listening-wrong-type"] = AfterHandshake((socket, _) => Send(socket, FrameType.Listening, """{"Addresses":"http://127.0.0.1:1"}""")),
        ["heartbeat-short"] = AfterHandshake((socket, _) => Send(socket, FrameType.Heartbeat, new string('x', FrameFormat.HeartbeatSize - 1))),
        ["message-truncated-json"] = AfterHandshake((socket, _) => Send(socket, FrameType.Message, "{\"half\":")),
        ["undeclared-fds"] = AfterHandshake((socket, _) => Flood(socket, "heartbeat frames, each with an undeclared descriptor", Heartbeat(), withDescriptor: true)),
        ["flood-heartbeat"] = AfterHandshake((socket, _) => Flood(socket, "heartbeat frames", Heartbeat())),
        ["flood-load"] = AfterHandshake((socket, _) => Flood(socket, "load reports", Frame(FrameType.LoadReport, new byte[FrameFormat.HeartbeatSize]))),
        ["flood-message"] = AfterHandshake((socket, _) => Flood(socket, "64 KiB messages", Frame(FrameType.Message, Encoding.UTF8.GetBytes($"\"{new string('m', 64 * 1024)}\"")))),
        ["stop-reading"] = AfterHandshake((socket, _) => ListenAndStopReading(socket)),
        ["stop-reading-messages"] = AfterHandshake((socket, _) =>
        {
            Send(socket, FrameType.Message, $"{{\"{MessageFlood.Property}\":200}}");
            ListenAndStopReading(socket);
        }),
    };

    /// <summary>In the worker chosen to be hostile: misbehaves, and exits once the primary is done with it. Elsewhere returns at once.</summary>
    public static void RunIfChosen()
    {
        var mode = Environment.GetEnvironmentVariable(ModeVariable);
        if (mode is null || Environment.GetEnvironmentVariable(WorkerEnvironment.WorkerIdVariable) != Environment.GetEnvironmentVariable(IdVariable))
        {
            return;
        }

        var worker = WorkerEnvironment.Current!;
        ProcessInterop.DieWithParent(worker.PrimaryPid);
        var attack = Modes.TryGetValue(mode, out var chosen) ? chosen : throw new ArgumentException($"{ModeVariable}={mode} is not one of {string.Join(", ", Modes.Keys)}");
        using var socket = Connect(worker);
        try
        {
            attack(socket, worker);
            Console.Error.WriteLine($"hostile worker {worker.WorkerId}: {mode} sent");
        }
        catch (Exception error) when (error is IOException or SocketException or Win32Exception)
        {
            Console.Error.WriteLine($"hostile worker {worker.WorkerId}: {mode} cut short by the primary ({error.Message})");
        }

        // Whatever the primary sends now is ignored, until it closes the channel or a while passes without it doing so.
        var closed = false;
        try
        {
            socket.ReceiveTimeout = (int)LingerTime.TotalMilliseconds;
            var buffer = new byte[64 * 1024];
            while (socket.Receive(buffer) > 0)
            {
            }

            closed = true;
        }
        catch (SocketException)
        {
        }

        Console.Error.WriteLine($"hostile worker {worker.WorkerId}: the primary {(closed ? "closed" : "kept")} the channel; exiting");
        Environment.Exit(1);
    }

    private static Socket Connect(WorkerEnvironment worker)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint("\0" + worker.ChannelName));
        return socket;
    }

    /// <summary>A well-formed Hello, and the primary's Welcome read: from here on frames reach the supervisor.</summary>
    private static void Handshake(Socket socket, WorkerEnvironment worker)
    {
        socket.Send(Frame(FrameType.Hello, JsonSerializer.SerializeToUtf8Bytes(new HelloMessage(worker.WorkerId, worker.Secret, ChannelProtocol.Version), IpcJson.Default.HelloMessage)));
        socket.ReceiveTimeout = 10_000;
        using var stream = new NetworkStream(socket, ownsSocket: false);
        var header = new byte[FrameFormat.HeaderSize];
        stream.ReadExactly(header);
        stream.ReadExactly(new byte[BitConverter.ToInt32(header, 0)]);
    }

    private static Action<Socket, WorkerEnvironment> AfterHandshake(Action<Socket, WorkerEnvironment> attack) => (socket, worker) =>
    {
        Handshake(socket, worker);
        attack(socket, worker);
    };

    private static byte[] Heartbeat() => Frame(FrameType.Heartbeat, new byte[FrameFormat.HeartbeatSize]);

    private static byte[] Frame(FrameType type, byte[] payload)
    {
        var frame = new byte[FrameFormat.HeaderSize + payload.Length];
        FrameFormat.WriteHeader(frame, type, payload.Length, 0);
        payload.CopyTo(frame, FrameFormat.HeaderSize);
        return frame;
    }

    private static void Send(Socket socket, FrameType type, string payload) => socket.Send(Frame(type, Encoding.UTF8.GetBytes(payload)));

    private static void SendHeader(Socket socket, FrameType type, int length)
    {
        var header = new byte[FrameFormat.HeaderSize];
        FrameFormat.WriteHeader(header, type, length, 0);
        socket.Send(header);
    }

    /// <summary>
    /// Says it listens, so the primary hands it connections (RoundRobin), then never reads its channel again while its
    /// heartbeats say it is alive: only what the primary sees of its channel can tell it is of no use.
    /// </summary>
    private static void ListenAndStopReading(Socket socket)
    {
        Send(socket, FrameType.Listening, """{"Addresses":["http://127.0.0.1:1"]}""");
        Console.Error.WriteLine("hostile worker: listening, and reading nothing more");
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < SitStillTime)
        {
            socket.Send(Heartbeat());
            Thread.Sleep(200);
        }
    }

    /// <summary>Sends <paramref name="frame"/> as fast as the primary takes it for <see cref="FloodTime"/>.</summary>
    private static void Flood(Socket socket, string what, byte[] frame, bool withDescriptor = false)
    {
        using var devNull = File.OpenHandle("/dev/null");
        int[] descriptors = withDescriptor ? [(int)devNull.DangerousGetHandle()] : [];
        var clock = Stopwatch.StartNew();
        var sent = 0L;
        while (clock.Elapsed < FloodTime)
        {
            SocketInterop.Send((int)socket.Handle, frame, descriptors);
            sent++;
        }

        Console.Error.WriteLine($"hostile worker: {sent} {what} in {clock.Elapsed.TotalSeconds:0.0} s");
    }
}
