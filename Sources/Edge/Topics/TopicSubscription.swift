import ChannelProtocol
import NIOCore

/// One topic a connection subscribes to: how far it has been delivered and how the rest reaches it.
struct TopicSubscription {
    enum Mode: Equatable {
        /// New messages are written as the feed brings them.
        case live
        /// Reading what the device missed (from the edge's log or the broker); live messages wait in the log.
        case catchingUp
        /// The connection's outbound buffer is full: nothing is written until it drains, then it catches up.
        case paused
    }

    /// The last position delivered or known to hold nothing for this topic; nil for a live subscription that has
    /// delivered nothing yet.
    var after: TopicPosition?
    var mode: Mode
    /// Tells a catch-up step that finishes after an unsubscribe (or a new subscribe) that it is stale.
    let generation: Int
    /// Since when the subscription has waited for the feed to reach a position ahead of it.
    var aheadSince: NIODeadline?
    /// Whether the device was sent `subscribed`: not before its position is known to be one the stream has, so a
    /// made-up position gets `bad_position` instead.
    var confirmed: Bool
}
