namespace ProcessCluster.Distribution;

/// <summary>
/// The classic BPF program attached to an SO_REUSEPORT group (SO_ATTACH_REUSEPORT_CBPF): it returns the index of
/// the group member that gets a new connection. A random number modulo the number of serving slots, mapped to those
/// slots, spreads connections evenly whatever the clients' addresses and ports; the kernel's default, a hash of the
/// 4-tuple, and the RX hash depend on them, and the CPU number (SKF_AD_CPU) sends every connection of a loopback client
/// on one core to one worker.
/// </summary>
internal static class ReusePortProgram
{
    private const ushort LoadWordAbsolute = 0x20; // BPF_LD | BPF_W | BPF_ABS
    private const ushort ModuloConstant = 0x94; // BPF_ALU | BPF_MOD | BPF_K
    private const ushort JumpIfEqual = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort ReturnConstant = 0x06; // BPF_RET | BPF_K
    private const ushort ReturnAccumulator = 0x16; // BPF_RET | BPF_A
    private const int AncillaryRandom = -0x1000 + 56; // SKF_AD_OFF + SKF_AD_RANDOM

    /// <summary>The program that spreads new connections over <paramref name="slots"/> (group indices, at least one).</summary>
    public static ulong[] For(IReadOnlyList<int> slots)
    {
        if (slots.Count == 1)
        {
            return [Instruction(ReturnConstant, slots[0])];
        }

        List<ulong> program = [Instruction(LoadWordAbsolute, AncillaryRandom), Instruction(ModuloConstant, slots.Count)];
        if (slots.Select((slot, index) => slot == index).All(same => same))
        {
            program.Add(Instruction(ReturnAccumulator, 0));
            return [.. program];
        }

        // A lookup table: the Nth serving slot for a remainder of N.
        for (var index = 0; index < slots.Count - 1; index++)
        {
            program.Add(Instruction(JumpIfEqual, index, jumpIfFalse: 1));
            program.Add(Instruction(ReturnConstant, slots[index]));
        }

        program.Add(Instruction(ReturnConstant, slots[^1]));
        return [.. program];
    }

    /// <summary>struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } as one little-endian word.</summary>
    private static ulong Instruction(ushort code, int k, byte jumpIfFalse = 0) =>
        code | ((ulong)jumpIfFalse << 24) | ((ulong)(uint)k << 32);
}
