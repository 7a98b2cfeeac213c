import Shared

/// Checks an `Authorization: Bearer <key>` header against the configured app-server keys.
///
/// Guarantees: every key is compared, each over its whole length whichever byte differs first, so the time an answer
/// takes does not tell a caller how much of a key it guessed (only, at most, how long the keys are).
enum BearerAuthorization {
    /// Whether `authorization` (the header's value, nil when absent) is `Bearer ` followed by one of `keys`; spaces
    /// around the key are ignored, and an empty key never matches.
    static func allows(_ authorization: String?, keys: Set<String>) -> Bool {
        guard let offered = Secrets.bearer(authorization) else { return false }
        // Counted rather than `contains`: no key is skipped because an earlier one matched.
        var matches = 0
        for key in keys where Secrets.same(offered, Array(key.utf8)) { matches += 1 }
        return matches > 0
    }
}
