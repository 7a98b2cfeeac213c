/// Bytes from the system's cryptographic generator (`getrandom` on Linux), for ids and keys nobody may guess.
public enum RandomBytes {
    /// `count` bytes, a multiple of 8: one draw per 8 bytes rather than per byte, since each draw is a system call and
    /// ids are made for every message.
    public static func make(_ count: Int) -> [UInt8] {
        precondition(count % 8 == 0, "random bytes come in whole 64-bit draws")
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for _ in 0..<count / 8 {
            let draw = generator.next()
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: draw >> UInt64(shift))) }
        }
        return bytes
    }
}
