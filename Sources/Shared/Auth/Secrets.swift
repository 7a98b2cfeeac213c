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
}
