import Logging

/// When the Redis thread may try to connect, as a value free of sockets and threads: after a failed attempt it waits a
/// backoff that starts at 50 ms and doubles up to 2 s; after a lost connection it tries again at once (the server may
/// just have restarted); a probe (`checkReachable`) may always try. Each event returns what the thread must do.
struct RedisReconnectSchedule {
    static let minBackoff: Duration = .milliseconds(50)
    static let maxBackoff: Duration = .seconds(2)

    /// The earliest time of the next attempt.
    private(set) var nextAttempt: ContinuousClock.Instant
    private(set) var failedAttempts = 0
    /// Why the last attempt failed, for the errors of requests refused meanwhile.
    private(set) var lastError = "not connected yet"
    private var backoff = minBackoff

    init(now: ContinuousClock.Instant) { nextAttempt = now }

    /// Whether the thread may try to connect now.
    func mayConnect(at now: ContinuousClock.Instant, probe: Bool) -> Bool { probe || now >= nextAttempt }

    /// A connection is up. Returns how many attempts failed before it (0: a first connection, else a reconnect).
    mutating func connected() -> Int {
        defer {
            failedAttempts = 0
            backoff = Self.minBackoff
        }
        return failedAttempts
    }

    /// An attempt failed. Returns how loudly to log it: a warning the first time and about once a minute at the
    /// capped backoff (every 30th), so an outage does not flood the log; debug otherwise.
    mutating func failed(_ error: String, at now: ContinuousClock.Instant) -> Logger.Level {
        failedAttempts += 1
        lastError = error
        nextAttempt = now + backoff
        backoff = min(backoff * 2, Self.maxBackoff)
        return failedAttempts % 30 == 1 ? .warning : .debug
    }

    /// A working connection broke: the next attempt may come at once, with the backoff reset.
    mutating func lost(_ error: String, at now: ContinuousClock.Instant) {
        lastError = error
        nextAttempt = now
        backoff = Self.minBackoff
    }
}
