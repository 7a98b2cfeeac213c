/// Checks an `Authorization: Bearer <key>` header against the configured app-server keys.
///
/// Guarantees: every key is compared, each over its whole length whichever byte differs first, so the time an answer
/// takes does not tell a caller how much of a key it guessed (only, at most, how long the keys are).
enum BearerAuthorization {
    /// Whether `authorization` (the header's value, nil when absent) is `Bearer ` followed by one of `keys`; spaces
    /// around the key are ignored, and an empty key never matches.
    static func allows(_ authorization: String?, keys: Set<String>) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let offered = Array(String(authorization.dropFirst("Bearer ".count)).trimmingSpaces.utf8)
        guard !offered.isEmpty else { return false }
        // Counted rather than `contains`: no key is skipped because an earlier one matched.
        var matches = 0
        for key in keys where equalInConstantTime(offered, Array(key.utf8)) { matches += 1 }
        return matches > 0
    }

    /// Whether `a` and `b` are equal, looking at every byte of the longer one.
    static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | (a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
