import Foundation

/// What the connections of one edge share for topics: the log of the stream, who subscribes where, the broker reader
/// for older positions, and the limits.
final class EdgeTopics: Sendable {
    let log: TopicLog
    let hub: TopicHub
    /// Nil in tests that run without a broker: resuming from before the log then gets a `gap`.
    let replay: TopicReplayReader?
    /// Subscriptions one connection may hold.
    let maxPerConnection: Int
    /// How far back a resuming device is served: older messages count as missed (`gap`).
    let window: Duration
    /// Entries written per step of a catch-up, between which the connection's buffer may drain.
    let catchUpChunk = 256
    /// The widest range of offsets one broker read covers; a longer catch-up takes several.
    var maxReplayRange: Int64 { Self.maxReplayRange }
    static let maxReplayRange: Int64 = 50_000
    /// How long a position beyond the feed's head may wait for the feed to reach it before `bad_position`.
    let aheadGrace: Duration = .seconds(2)

    init(log: TopicLog, hub: TopicHub, replay: TopicReplayReader?, maxPerConnection: Int, window: Duration) {
        self.log = log
        self.hub = hub
        self.replay = replay
        self.maxPerConnection = maxPerConnection
        self.window = window
    }

    /// The oldest record timestamp a catch-up still delivers, Unix milliseconds.
    var windowStartMs: Int64 {
        Int64(Date().timeIntervalSince1970 * 1000) - Int64(window / .milliseconds(1))
    }
}
