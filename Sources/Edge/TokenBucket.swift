/// A token bucket: it holds at most `burst` tokens, gains `rate` tokens a second, and each event takes one.
///
/// Guarantees: over any span of `t` seconds at most `burst + rate × t` events are allowed, and a bucket left alone
/// for `burst / rate` seconds is full again. The caller passes the time (monotonic nanoseconds, such as
/// `NIODeadline.uptimeNanoseconds`), so the bucket is a plain value, tested without sockets or sleeping, and costs
/// 32 bytes where it is kept (one per connection, one per peer address).
struct TokenBucket: Sendable, Equatable {
    /// Tokens gained per second.
    let rate: Double
    /// The most tokens the bucket holds, which is the longest burst it allows.
    let burst: Double
    private(set) var tokens: Double
    private var updatedAt: UInt64

    /// A full bucket.
    init(rate: Double, burst: Int, now: UInt64) {
        precondition(rate > 0 && burst >= 1, "a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = Double(burst)
        self.tokens = Double(burst)
        self.updatedAt = now
    }

    /// Takes one token if there is one.
    /// - Returns: whether the event is allowed.
    mutating func take(now: UInt64) -> Bool {
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whether the bucket would be full at `now`: it then carries no memory of past events and can be forgotten.
    func isFull(now: UInt64) -> Bool {
        tokens + elapsedSeconds(until: now) * rate >= burst
    }

    private mutating func refill(now: UInt64) {
        tokens = min(burst, tokens + elapsedSeconds(until: now) * rate)
        // A clock read on another thread may be a little behind the last one: never move the bucket back in time.
        updatedAt = max(updatedAt, now)
    }

    private func elapsedSeconds(until now: UInt64) -> Double {
        now > updatedAt ? Double(now - updatedAt) / 1_000_000_000 : 0
    }
}
