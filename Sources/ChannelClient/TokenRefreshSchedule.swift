/// When a connection's token is refreshed: on the edge's `refresh_due`, or unprompted a little after the edge should
/// have sent it, and after a failure (no new token from the app, or the edge refused it) again with backoff.
///
/// Pure: the wall clock (Unix seconds, the edge's `exp` is one) and the randomness of the jitter are passed in, so it
/// is tested without sockets or clocks. ``PersistentDevice`` keeps one per connection.
struct TokenRefreshSchedule: Equatable {
    /// What woke the refresher.
    enum Trigger: Equatable {
        /// The edge's `refresh_due` for a token expiring at `expiresAt`.
        case due(expiresAt: Int)
        /// The timer set for ``nextAttempt``.
        case timer
    }

    /// The longest lead the edge gives (its `--refresh-lead` default).
    static let maxLead = 60.0
    static let firstRetry = 1.0
    static let maxRetry = 30.0

    /// When the connection's token expires; nil until the edge says.
    private(set) var expiresAt: Int?
    /// When to refresh without a `refresh_due` (Unix seconds): the fallback, or the retry after a failure.
    private(set) var nextAttempt: Double?
    /// Failed attempts since the last refresh the edge accepted.
    private(set) var failures = 0

    init(expiresAt: Int?, now: Double) {
        self.expiresAt = expiresAt
        nextAttempt = expiresAt.flatMap { Self.fallback(expiresAt: $0, now: now) }
    }

    /// Whether `trigger` starts an attempt now. A `refresh_due` for a token already replaced is stale, and during a
    /// retry's backoff a `refresh_due` waits for the retry (the edge sends it once per token, so nothing is lost).
    mutating func shouldRefresh(_ trigger: Trigger, now: Double) -> Bool {
        switch trigger {
        case .due(let due):
            if let expiresAt, due < expiresAt { return false }
            expiresAt = due
            if failures > 0, let nextAttempt, now < nextAttempt { return false }
            return true
        case .timer:
            // A timer may fire a little early, or be one that was replaced: only the planned time counts.
            guard let nextAttempt else { return false }
            return now >= nextAttempt - 0.01
        }
    }

    /// The edge accepted a refresh: its token expires at `expiresAt`. One that expires no later than the token it
    /// replaced gained nothing (the edge would ask again at once), so it counts as a failure.
    mutating func refreshed(expiresAt new: Int, now: Double, random: Double) {
        if let old = expiresAt, new <= old {
            failed(now: now, random: random)
            return
        }
        expiresAt = new
        failures = 0
        nextAttempt = Self.fallback(expiresAt: new, now: now)
    }

    /// An attempt failed: the next one after ``retryDelay(failures:random:)``.
    mutating func failed(now: Double, random: Double) {
        failures += 1
        nextAttempt = now + Self.retryDelay(failures: failures, random: random)
    }

    /// How long before `exp` the edge sends `refresh_due`: 60 s, or a fifth of the token's life if shorter (at least
    /// 1 s). The token's life is taken as what remains of it when the client learns its expiry.
    static func lead(remaining: Double) -> Double {
        min(maxLead, max(1, remaining / 5))
    }

    /// The unprompted refresh: halfway between the edge's `refresh_due` and `exp`, so the edge's frame normally comes
    /// first. Nil when the local clock already says the token expired (a clock far ahead of the edge's would then
    /// refresh in a loop): the edge's `refresh_due`, sent at once in that case, starts the refresh.
    static func fallback(expiresAt: Int, now: Double) -> Double? {
        let remaining = Double(expiresAt) - now
        guard remaining > 0 else { return nil }
        return Double(expiresAt) - lead(remaining: remaining) / 2
    }

    /// The wait before retry `failures` (1 after the first failure): between half and all of 1 s × 2^(failures − 1),
    /// capped at 30 s. Never near zero, so retries cannot use up the edge's burst of 3 refreshes at once.
    /// - Parameter random: in 0..<1.
    static func retryDelay(failures: Int, random: Double) -> Double {
        let bound = min(maxRetry, firstRetry * Double(1 << min(max(failures, 1) - 1, 16)))
        return bound / 2 + bound / 2 * random
    }
}
