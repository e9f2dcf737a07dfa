using System.Globalization;

namespace ProcessCluster.Control;

/// <summary>A worker count asked for by an operator: "3" (absolute), "+2" or "-1" (relative to the desired count).</summary>
internal readonly record struct ScaleTarget(int Count, bool Relative)
{
    /// <summary>The most workers an operator may ask for: enough for any machine, few enough that a typo cannot fork-bomb it.</summary>
    public static int Limit => Math.Max(64, 8 * Environment.ProcessorCount);

    public static ScaleTarget Parse(string? text)
    {
        var trimmed = text?.Trim() ?? string.Empty;
        var relative = trimmed.StartsWith('+') || trimmed.StartsWith('-');
        if (!int.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var count) || (!relative && count < 1))
        {
            throw new FormatException($"'{text}' is not a worker count: use N (at least 1), +N or -N");
        }

        return new ScaleTarget(count, relative);
    }

    /// <summary>The count to scale to from <paramref name="current"/>; throws when it leaves 1..<see cref="Limit"/>.</summary>
    public int Resolve(int current)
    {
        var target = Relative ? current + Count : Count;
        if (target < 1 || target > Limit)
        {
            throw new FormatException($"cannot scale to {target} workers: the count must be between 1 and {Limit}");
        }

        return target;
    }
}
