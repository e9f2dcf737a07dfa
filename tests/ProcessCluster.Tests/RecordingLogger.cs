using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ProcessCluster.Tests;

/// <summary>Log lines as written, for tests that count them.</summary>
internal sealed class RecordingLogger : ILogger
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue(formatter(state, exception));
}
