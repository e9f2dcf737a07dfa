namespace ProcessCluster;

/// <summary>The checks every setting passes before a cluster starts: each problem named with its setting.</summary>
public sealed partial class ClusterOptions
{
    /// <summary>Every problem with these settings, as the primary checks them, each naming the setting; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate() => Validate(asPrimary: true);

    /// <summary>
    /// A worker checks what it uses, not the settings of the primary's own endpoints (admin, agent): it is not given the
    /// admin token (<c>WorkerLauncher</c> withholds it), so it could not pass the check that the token is set.
    /// </summary>
    internal IReadOnlyList<string> Validate(bool asPrimary)
    {
        var errors = new List<string>();
        void AtLeast(string name, long value, long minimum)
        {
            if (value < minimum)
            {
                errors.Add($"{SectionName}:{name} must be at least {minimum} (was {value})");
            }
        }

        void Positive(string name, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"{SectionName}:{name} must be positive (was {value})");
            }
        }

        void NotNegative(string name, TimeSpan value)
        {
            if (value < TimeSpan.Zero)
            {
                errors.Add($"{SectionName}:{name} must not be negative (was {value})");
            }
        }

        if (Workers is { } workers)
        {
            AtLeast(nameof(Workers), workers, 1);
        }

        AtLeast(nameof(MinWorkers), MinWorkers, 0);
        AtLeast(nameof(MaxWorkers), MaxWorkers, 1);
        if (MaxWorkers < MinWorkers)
        {
            errors.Add($"{SectionName}:{nameof(MaxWorkers)} ({MaxWorkers}) must not be less than {SectionName}:{nameof(MinWorkers)} ({MinWorkers})");
        }

        if (!(ScaleTargetBusy is > 0 and <= 1))
        {
            errors.Add($"{SectionName}:{nameof(ScaleTargetBusy)} must be above 0 and at most 1 (was {ScaleTargetBusy})");
        }

        if (!(ScaleTolerance is >= 0 and < 1))
        {
            errors.Add($"{SectionName}:{nameof(ScaleTolerance)} must be at least 0 and below 1 (was {ScaleTolerance})");
        }

        if (!Enum.IsDefined(Dispatch))
        {
            errors.Add($"{SectionName}:{nameof(Dispatch)} must be RoundRobin or LeastBusy (was {Dispatch})");
        }

        if (!Enum.IsDefined(Affinity))
        {
            errors.Add($"{SectionName}:{nameof(Affinity)} must be None, ConnectionToken or ClientIp (was {Affinity})");
        }
        else if (Affinity != AffinityMode.None && Scheduling != SchedulingMode.RoundRobin)
        {
            errors.Add($"{SectionName}:{nameof(Affinity)} needs Cluster:Scheduling=RoundRobin: in {Scheduling} scheduling the kernel picks the worker (was {Affinity} with {Scheduling})");
        }

        Positive(nameof(ScaleDownWindow), ScaleDownWindow);
        NotNegative(nameof(ScaleWarmUp), ScaleWarmUp);
        AtLeast(nameof(ScaleQueueFastPath), ScaleQueueFastPath, 1);
        AtLeast(nameof(ScaleInFlightFastPath), ScaleInFlightFastPath, 1);
        AtLeast(nameof(ScaleMinFreeMemoryMb), ScaleMinFreeMemoryMb, 0);
        if (!Enum.IsDefined(Scheduling))
        {
            errors.Add($"{SectionName}:{nameof(Scheduling)} must be RoundRobin, Shared or ReusePort (was {Scheduling})");
        }
        else if (Scheduling == SchedulingMode.ReusePort && !OperatingSystem.IsLinux())
        {
            errors.Add($"{SectionName}:{nameof(Scheduling)}=ReusePort needs Linux (an SO_REUSEPORT group steered by a BPF program); use RoundRobin or Shared here");
        }

        AtLeast(nameof(WarmSpares), WarmSpares, 0);
        if (WarmSpares > 0 && Scheduling != SchedulingMode.RoundRobin)
        {
            errors.Add($"{SectionName}:{nameof(WarmSpares)} needs {SectionName}:{nameof(Scheduling)}=RoundRobin: with {Scheduling} scheduling the kernel, not the primary, picks the worker (was {Scheduling})");
        }

        // A worker asks these of itself over its own inbox: a request line of their own, with RoundRobin's hand-over.
        void SelfRequestPath(string name, string? path)
        {
            if (string.IsNullOrEmpty(path))
            {
                return;
            }

            if (!path.StartsWith('/') || path.Any(character => char.IsWhiteSpace(character) || char.IsControl(character)))
            {
                errors.Add($"{SectionName}:{name} must be a path starting with /, without spaces or control characters (was {path})");
            }

            if (Scheduling != SchedulingMode.RoundRobin)
            {
                errors.Add($"{SectionName}:{name} needs {SectionName}:{nameof(Scheduling)}=RoundRobin: with {Scheduling} scheduling a worker accepts from the kernel's queue, where it cannot put a request to itself (was {Scheduling})");
            }
        }

        if (LeanPrimaryProgram is not null)
        {
            if (!LeanPrimary)
            {
                errors.Add($"{SectionName}:{nameof(LeanPrimaryProgram)} needs {SectionName}:{nameof(LeanPrimary)}=true (was {LeanPrimaryProgram})");
            }

            if (!Path.IsPathFullyQualified(LeanPrimaryProgram) || !File.Exists(LeanPrimaryProgram))
            {
                errors.Add($"{SectionName}:{nameof(LeanPrimaryProgram)} must be the absolute path of an existing file, a dotnet-cluster published with native AOT (was {LeanPrimaryProgram})");
            }
        }

        if (WorkingDirectory is not null && !Directory.Exists(WorkingDirectory))
        {
            errors.Add($"{SectionName}:{nameof(WorkingDirectory)} must be an existing directory (was {WorkingDirectory})");
        }

        SelfRequestPath(nameof(WarmupPath), WarmupPath);
        SelfRequestPath(nameof(WorkerHealthPath), WorkerHealthPath);
        Positive(nameof(WorkerHealthInterval), WorkerHealthInterval);
        Positive(nameof(WorkerHealthTimeout), WorkerHealthTimeout);
        AtLeast(nameof(WorkerHealthFailures), WorkerHealthFailures, 1);
        if (WorkerHealthTimeout > WorkerHealthInterval)
        {
            errors.Add($"{SectionName}:{nameof(WorkerHealthTimeout)} ({WorkerHealthTimeout}) must not be longer than {SectionName}:{nameof(WorkerHealthInterval)} ({WorkerHealthInterval})");
        }

        AtLeast(nameof(MaxPendingConnections), MaxPendingConnections, 1);
        AtLeast(nameof(MaxHandoffsInFlight), MaxHandoffsInFlight, 1);
        AtLeast(nameof(Backlog), Backlog, 1);
        AtLeast(nameof(MaxMessageBytes), MaxMessageBytes, 4096);
        AtLeast(nameof(ReloadConcurrency), ReloadConcurrency, 1);
        AtLeast(nameof(CrashLoopLimit), CrashLoopLimit, 1);
        AtLeast(nameof(MaxRequests), MaxRequests, 0);
        AtLeast(nameof(MaxMemoryMb), MaxMemoryMb, 0);
        Positive(nameof(DrainTimeout), DrainTimeout);
        Positive(nameof(ReadyTimeout), ReadyTimeout);
        Positive(nameof(RestartDelay), RestartDelay);
        Positive(nameof(MaxRestartDelay), MaxRestartDelay);
        Positive(nameof(StableUptime), StableUptime);
        Positive(nameof(MinUptime), MinUptime);
        Positive(nameof(CrashLoopWindow), CrashLoopWindow);
        Positive(nameof(HeartbeatInterval), HeartbeatInterval);
        Positive(nameof(HeartbeatTimeout), HeartbeatTimeout);
        NotNegative(nameof(MaxLifetime), MaxLifetime);
        NotNegative(nameof(RecycleMinLifetime), RecycleMinLifetime);
        if (MaxRestartDelay < RestartDelay)
        {
            errors.Add($"{SectionName}:{nameof(MaxRestartDelay)} ({MaxRestartDelay}) must not be less than {SectionName}:{nameof(RestartDelay)} ({RestartDelay})");
        }

        if (HeartbeatTimeout <= HeartbeatInterval)
        {
            errors.Add($"{SectionName}:{nameof(HeartbeatTimeout)} ({HeartbeatTimeout}) must be longer than {SectionName}:{nameof(HeartbeatInterval)} ({HeartbeatInterval})");
        }

        if (!Enum.IsDefined(LogFormat))
        {
            errors.Add($"{SectionName}:{nameof(LogFormat)} must be Text or Json (was {LogFormat})");
        }

        if (asPrimary)
        {
            ValidatePrimaryEndpoints(errors);
        }

        if (!(MaxRequestsJitter is >= 0 and <= 1))
        {
            errors.Add($"{SectionName}:{nameof(MaxRequestsJitter)} must be between 0 and 1 (was {MaxRequestsJitter})");
        }

        return errors;
    }

    /// <summary>The admin endpoint (its URL and token) and the HAProxy agent, which only the primary runs.</summary>
    private void ValidatePrimaryEndpoints(List<string> errors)
    {
        string? adminToken = null;
        try
        {
            adminToken = ReadAdminToken();
            if (!string.IsNullOrEmpty(AdminTokenFile) && string.IsNullOrEmpty(adminToken))
            {
                // An empty file must not quietly mean "no token".
                errors.Add($"{SectionName}:{nameof(AdminTokenFile)} ({AdminTokenFile}) is empty");
            }
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{SectionName}:{nameof(AdminTokenFile)} cannot be read: {error.Message}");
        }
        catch (InvalidOperationException error)
        {
            errors.Add(error.Message);
        }

        if (AdminUrl is not null)
        {
            if (AdminIsLoopback(AdminUrl) is not { } loopback)
            {
                errors.Add($"{SectionName}:{nameof(AdminUrl)} must be an http:// URL with a port, like http://127.0.0.1:9090 (was {AdminUrl})");
            }
            else if (!loopback && string.IsNullOrEmpty(adminToken))
            {
                errors.Add($"{SectionName}:{nameof(AdminToken)} is required when {SectionName}:{nameof(AdminUrl)} is not a loopback address (was {AdminUrl})");
            }
        }

        if (AgentUrl is not null && !IsAgentUrl(AgentUrl))
        {
            errors.Add($"{SectionName}:{nameof(AgentUrl)} must be a tcp:// URL with an IP address and a port, like tcp://0.0.0.0:9101 (was {AgentUrl})");
        }
    }

    /// <summary>A tcp:// URL of TCP addresses only, with its port written out (HAProxy's agent-port has no default).</summary>
    private static bool IsAgentUrl(string url)
    {
        try
        {
            return url.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase)
                && Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Port >= 0 && uri.AbsolutePath == "/"
                && ClusterEndpoint.Parse(url).All(endpoint => endpoint.EndPoint is System.Net.IPEndPoint);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether an admin URL binds loopback addresses only; null when it is not a usable http:// URL. Read as the
    /// ';'-separated list Kestrel binds, so that no address escapes the check.
    /// </summary>
    private static bool? AdminIsLoopback(string url)
    {
        try
        {
            var endpoints = ClusterEndpoint.ParseUrls([url]);
            return endpoints.Count > 0 && endpoints.All(endpoint => endpoint.Scheme == "http")
                ? endpoints.All(endpoint => endpoint.EndPoint is System.Net.IPEndPoint ip && System.Net.IPAddress.IsLoopback(ip.Address))
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
