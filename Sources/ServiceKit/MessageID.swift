import ChannelProtocol

/// Ids of what a service sends to devices.
public enum MessageID {
    /// `id` itself when it fits the protocol's 128-byte id rule, else `<service>-h-` and a 128-bit hash of it (two FNV-1a
    /// variants, hex). Deterministic, so a batch handled again repeats its ids and devices drop the repeats.
    public static func bounded(_ id: String, service: String) -> String {
        guard id.utf8.count > FieldRules.maxIDBytes else { return id }
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142
        for byte in id.utf8 {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b &* 0x0000_0100_0000_01b3) ^ UInt64(byte)
        }
        func hex(_ v: UInt64) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: 16 - s.count) + s }
        return "\(service)-h-" + hex(a) + hex(b)
    }
}
