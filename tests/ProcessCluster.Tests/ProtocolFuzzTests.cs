using System.Net;
using System.Text;
using CsCheck;
using ProcessCluster.Control;
using ProcessCluster.Ipc;

namespace ProcessCluster.Tests;

/// <summary>
/// Property-based fuzz (CsCheck) of what a worker or a local user can send the primary: the channel's frame decoder
/// and the control socket's JSON. Bounded case counts keep each property to a second or two; a failure prints the seed
/// that reproduces it. Written against the public contract only (bytes in, frames or a protocol violation out), so
/// changes to how descriptors are tracked do not touch it.
/// </summary>
public class ProtocolFuzzTests
{
    private const int Cases = 2_000;

    private static readonly Gen<int> MaxPayload = Gen.Int[1, 4096];

    /// <summary>Read sizes as a socket would deliver them: mostly small, sometimes a large slab.</summary>
    private static readonly Gen<int[]> ReadSizes = Gen.Frequency((3, Gen.Int[1, 16]), (1, Gen.Int[1, 8192])).Array[1, 32];

    /// <summary>
    /// A stream that is plausible enough to get past the first check: random bytes, mixed with headers of small
    /// lengths, any type byte and a few declared descriptors, followed by their payloads (or not).
    /// </summary>
    private static readonly Gen<byte[]> HostileStream = Gen.Frequency(
            (1, Gen.Byte.Array[0, 64]),
            (3, Gen.Select(Gen.Int[0, 300], Gen.Byte[0, 15], Gen.Byte[0, 3], Gen.Byte.Array[0, 300], (length, type, fds, payload) =>
            {
                var header = new byte[FrameFormat.HeaderSize];
                FrameFormat.WriteHeader(header, (FrameType)type, length, fds);
                return header.Concat(payload).ToArray();
            })))
        .Array[0, 12]
        .Select(parts => parts.SelectMany(part => part).ToArray());

    private static readonly Gen<(FrameType Type, byte[] Payload)> ValidFrame =
        Gen.Select(Gen.Enum<FrameType>(), Gen.Byte.Array[0, 600], (type, payload) => (type, payload));

    [Fact]
    public void The_decoder_fed_any_bytes_split_anyhow_yields_frames_within_the_limit_or_a_protocol_violation_and_never_stalls()
    {
        Gen.Select(MaxPayload, HostileStream, ReadSizes).Sample(
            (maxPayload, stream, reads) =>
            {
                try
                {
                    foreach (var frame in Decode(maxPayload, stream, reads))
                    {
                        Assert.True(FrameFormat.IsKnown(frame.Type), $"frame of unknown type {frame.Type}");
                        Assert.InRange(frame.Payload.Length, 0, maxPayload);
                    }
                }
                catch (ProtocolViolationException)
                {
                    // The one way a channel is allowed to fail: it is dropped and the primary carries on.
                }
            },
            iter: Cases);
    }

    [Fact]
    public void Every_valid_frame_sequence_split_anyhow_decodes_to_the_same_frames()
    {
        Gen.Select(ValidFrame.Array[0, 8], ReadSizes).Sample(
            (frames, reads) =>
            {
                const int maxPayload = 600;
                var stream = frames.SelectMany(frame => Encode(frame.Type, frame.Payload)).ToArray();
                var decoded = Decode(maxPayload, stream, reads);
                Assert.Equal(frames.Select(frame => frame.Type), decoded.Select(frame => frame.Type));
                Assert.Equal(frames.Select(frame => Convert.ToHexString(frame.Payload)), decoded.Select(frame => Convert.ToHexString(frame.Payload)));
                Assert.All(decoded, frame => Assert.Empty(frame.Fds));
            },
            iter: Cases);
    }

    /// <summary>Strings a client could send: any text, and JSON objects with the request's fields of any JSON type.</summary>
    private static readonly Gen<string> ControlLine = Gen.OneOf(
        Gen.String,
        Gen.Select(
                Gen.OneOf(Gen.Const("command"), Gen.Const("workers"), Gen.Const("worker"), Gen.Const("signal"), Gen.Const("fast"), Gen.String[Gen.Char.AlphaNumeric, 0, 8]),
                Gen.OneOf(
                    Gen.Const("null"), Gen.Const("true"), Gen.Const("[]"), Gen.Const("{}"), Gen.Const("1e999"), Gen.Const("\"\\ud800\""),
                    Gen.Long.Select(number => number.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    Gen.String[Gen.Char.AlphaNumeric, 0, 12].Select(text => $"\"{text}\"")),
                (name, value) => $"\"{name}\":{value}")
            .Array[0, 6]
            .Select(fields => "{" + string.Join(',', fields) + "}"));

    [Fact]
    public void A_control_line_of_any_text_or_json_either_parses_to_a_request_with_a_command_or_is_a_format_error()
    {
        ControlLine.Sample(
            line =>
            {
                try
                {
                    Assert.NotNull(ControlRequest.Parse(line).Command);
                }
                catch (FormatException)
                {
                    // Answered to the client as an error; the control server carries on.
                }
            },
            iter: 5 * Cases);
    }

    private static byte[] Encode(FrameType type, byte[] payload)
    {
        var bytes = new byte[FrameFormat.HeaderSize + payload.Length];
        FrameFormat.WriteHeader(bytes, type, payload.Length, fdCount: 0);
        payload.CopyTo(bytes, FrameFormat.HeaderSize);
        return bytes;
    }

    /// <summary>
    /// Feeds <paramref name="stream"/> as a receive loop does, in reads of the given sizes (cycled), taking every whole
    /// frame after each read. The space offered for a read is never empty (an empty read would look like end of file)
    /// and never larger than one whole frame of the largest payload.
    /// </summary>
    private static List<Frame> Decode(int maxPayload, byte[] stream, int[] reads)
    {
        using var decoder = new FrameDecoder(maxPayload);
        var frames = new List<Frame>();
        var offset = 0;
        for (var read = 0; offset < stream.Length; read++)
        {
            var space = decoder.GetReceiveSpace();
            Assert.InRange(space.Length, 1, FrameFormat.HeaderSize + maxPayload);
            var count = Math.Min(Math.Min(space.Length, reads[read % reads.Length]), stream.Length - offset);
            stream.AsSpan(offset, count).CopyTo(space);
            decoder.Advance(count);
            offset += count;
            while (decoder.TryRead(out var frame))
            {
                frames.Add(frame);
            }
        }

        return frames;
    }
}
