namespace ProcessCluster.AspNetCore.WebSockets;

/// <summary>
/// An upgraded WebSocket connection's stream, as the app's WebSocket writes to it, with one more writer: the worker's
/// drain, which sends a close frame 1001 "going away" so the client reconnects elsewhere. The close waits for the
/// message being sent to end (<see cref="WebSocketFrameTracker"/>), so no message is cut. After it, what the app
/// writes goes nowhere: the client takes no more data, and the app's own close frame would be a second one.
/// </summary>
internal sealed class GoingAwayStream(Stream inner) : Stream
{
    /// <summary>FIN + close, 12 bytes unmasked (a server's frames are not): status 1001, then the reason in UTF-8.</summary>
    private static readonly byte[] CloseFrame = [0x88, 12, 0x03, 0xE9, .. "going away"u8];

    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly WebSocketFrameTracker _frames = new();
    private TaskCompletionSource _wrote = NewSignal();
    private bool _closeSent;
    private volatile bool _disposed;

    public override bool CanRead => inner.CanRead;

    public override bool CanWrite => inner.CanWrite;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Sends the close frame once the app is between messages; returns when it went, or the connection ended first.</summary>
    public async Task GoAwayAsync()
    {
        while (!_disposed)
        {
            Task wrote;
            await _writeLock.WaitAsync().ConfigureAwait(false);
            try
            {
                if (_closeSent)
                {
                    return;
                }

                if (_frames.AtMessageBoundary)
                {
                    _closeSent = true;
                    await inner.WriteAsync(CloseFrame).ConfigureAwait(false);
                    await inner.FlushAsync().ConfigureAwait(false);
                    return;
                }

                // Read under the lock: the next write to complete signals this one.
                wrote = _wrote.Task;
            }
            finally
            {
                _writeLock.Release();
            }

            await wrote.ConfigureAwait(false);
        }
    }

    /// <summary>For the drain, which starts it and moves on: a client already gone is no error.</summary>
    public async Task TryGoAwayAsync()
    {
        try
        {
            await GoAwayAsync().ConfigureAwait(false);
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection ended first; Kestrel closes it.
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_closeSent)
            {
                await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
                _frames.Observe(buffer.Span);
            }
        }
        finally
        {
            var wrote = Interlocked.Exchange(ref _wrote, NewSignal());
            _writeLock.Release();
            wrote.TrySetResult();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Release();
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>A close still waiting for the app's message to end gives up: the connection is gone.</summary>
    private void Release()
    {
        _disposed = true;
        _wrote.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
