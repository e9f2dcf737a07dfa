using System.Collections.Concurrent;
using System.Net.Sockets;
using ProcessCluster.Interop;
using ProcessCluster.Ipc;
using ProcessCluster.Primary;

namespace ProcessCluster.Tests;

/// <summary>
/// Issue 12, row 9: once a worker is reaped its pid, and once a channel is closed its descriptor number, may name
/// something else; neither may be touched then. Real children and real sockets; the launcher's kill(2) is observed
/// through its constructor, which records whether the pid was still an unreaped child at the moment of each signal.
/// </summary>
[Collection(nameof(ProcessWideCollection))]
public sealed class PidReuseTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly ConcurrentQueue<(int Pid, int Signal, bool Unreaped)> _kills = new();

    private WorkerLauncher NewLauncher() => new(LogFormat.Text, (pid, signal) =>
    {
        _kills.Enqueue((pid, signal, ProcessInterop.IsUnreapedChild(pid)));
        return ProcessInterop.Signal(pid, signal);
    });

    [Fact]
    public async Task A_running_worker_is_signalled_and_a_reaped_one_is_not()
    {
        using var launcher = NewLauncher();
        var exited = new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        var pid = launcher.Spawn(new WorkerCommand("/bin/sh", ["sh", "-c", "exec sleep 60"]), 1, [], exited.SetResult);
        try
        {
            launcher.Signal(pid, SignalNames.SIGTERM);
            Assert.Equal(ExitStatus.Killed(SignalNames.SIGTERM), await exited.Task.WaitAsync(Deadline));

            // Reaped: the pid is free for any new process, which this signal must not reach.
            launcher.Signal(pid, SignalNames.SIGKILL);
            Assert.Equal([(pid, SignalNames.SIGTERM, true)], _kills);
        }
        finally
        {
            if (ProcessInterop.IsUnreapedChild(pid))
            {
                ProcessInterop.Signal(pid, SignalNames.SIGKILL);
            }
        }
    }

    [Fact]
    public async Task Signals_racing_the_reaper_reach_the_worker_only_while_it_is_unreaped()
    {
        using var launcher = NewLauncher();
        for (var round = 0; round < 10; round++)
        {
            var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var pid = 0;

            // Signal 0 (no signal, only the checks) as fast as possible across the exit, the reap and after. A thread
            // of its own, spinning before the spawn: a pool thread could start after a 50 ms process was reaped, on a
            // loaded machine in every round, leaving nothing to check.
            new Thread(() =>
            {
                SpinWait.SpinUntil(() => Volatile.Read(ref pid) != 0);
                while (!exited.Task.IsCompleted)
                {
                    launcher.Signal(pid, 0);
                }

                for (var i = 0; i < 100; i++)
                {
                    launcher.Signal(pid, 0);
                }

                signalled.SetResult();
            }) { IsBackground = true }.Start();
            Volatile.Write(ref pid, launcher.Spawn(new WorkerCommand("/bin/sleep", ["sleep", "0.05"]), round, [], _ => exited.SetResult()));
            await exited.Task.WaitAsync(Deadline);
            await signalled.Task.WaitAsync(Deadline);
        }

        Assert.NotEmpty(_kills);
        Assert.All(_kills, kill => Assert.True(kill.Unreaped, $"kill({kill.Pid}, {kill.Signal}) after the pid was reaped"));
    }

    [Fact]
    public void Shutdown_after_dispose_leaves_a_socket_that_took_the_same_descriptor_number_alone()
    {
        var (worker, primary) = UnixSocketPair.Create();
        using var _ = worker;
        var channel = new IpcChannel(primary, maxPayload: 1024);
        var number = channel.Fd;
        channel.Dispose();

        // The kernel gives out the lowest free number: open pairs until one end has the channel's old number.
        var opened = new List<Socket>();
        try
        {
            Socket? reused = null;
            Socket? peer = null;
            for (var i = 0; i < 100 && reused is null; i++)
            {
                var (a, b) = UnixSocketPair.Create();
                opened.Add(a);
                opened.Add(b);
                (reused, peer) = (int)a.Handle == number ? (a, b) : (int)b.Handle == number ? (b, a) : (null, null);
            }

            Assert.True(reused is not null && peer is not null, $"no new socket took descriptor {number}");
            channel.Shutdown();

            reused.Send([1, 2, 3]);
            var buffer = new byte[3];
            Assert.Equal(3, peer.Receive(buffer));
            peer.Send([4]);
            Assert.Equal(1, reused.Receive(buffer));
            Assert.Equal(4, buffer[0]);
        }
        finally
        {
            opened.ForEach(socket => socket.Dispose());
        }
    }
}
