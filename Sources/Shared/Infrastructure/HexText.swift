/// Lower-case hexadecimal text of bytes, two digits per byte.
///
/// Message ids are made for every device of every send (a batch of 100 makes 100), so this writes the digits into
/// one buffer rather than a string per byte.
public enum HexText {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func of<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `count` random bytes (``RandomBytes``) as hex.
    public static func random(bytes count: Int) -> String { of(RandomBytes.make(count)) }
}
