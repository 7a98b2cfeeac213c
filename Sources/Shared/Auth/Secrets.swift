/// Comparison of secrets (shared secrets, API keys) offered by a peer.
///
/// Guarantees: every byte of the longer value is looked at whichever byte differs first, so the time an answer takes
/// tells a caller nothing of how much of a secret it guessed (only, at most, its length); a zero byte is not padding.
public enum Secrets {
    public static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) { difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return difference == 0
    }

    public static func same(_ a: String, _ b: String) -> Bool { same(Array(a.utf8), Array(b.utf8)) }

    /// The secret an `Authorization: Bearer <secret>` header's value offers, without the spaces and tabs around it;
    /// nil when the header is absent, of another scheme, or offers an empty secret.
    public static func bearer(_ authorization: String?) -> [UInt8]? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return nil }
        let offered = authorization.utf8.dropFirst("Bearer ".count)
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        guard let first = offered.firstIndex(where: { !isSpace($0) }),
              let last = offered.lastIndex(where: { !isSpace($0) }) else { return nil }
        return Array(offered[first...last])
    }
}
