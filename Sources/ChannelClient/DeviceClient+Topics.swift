import ChannelProtocol

/// What a subscribed connection receives for its topics.
public enum TopicDelivery: Sendable, Equatable {
    case event(TopicEvent)
    /// Messages up to and including `position` were missed and cannot be delivered.
    case gap(topic: String, position: TopicPosition)

    public var topic: String {
        switch self {
        case .event(let event): return event.topic
        case .gap(let topic, _): return topic
        }
    }

    public var position: TopicPosition {
        switch self {
        case .event(let event): return event.position
        case .gap(_, let position): return position
        }
    }
}

extension DeviceClient {
    /// Subscribes to `topic` and returns when the edge confirms (before any replayed message arrives).
    /// - Parameter position: the last position processed; the edge first replays every later message it still can,
    ///   or sends a `gap` for those it cannot.
    /// - Throws: ``Failure/refused(_:)`` with the edge's error (`forbidden_topic`, `too_many_topics`, `bad_position`),
    ///   or with `invalid_field` without sending when `topic` is not a topic name.
    public func subscribe(topic: String, after position: TopicPosition? = nil, timeout: Duration = .seconds(10)) async throws {
        try Self.checkTopic(topic)
        try await sendAndAwait(.subscribe(topic: topic, position: position), answer: .topic(topic), timeout: timeout)
    }

    /// Unsubscribes from `topic` and returns when the edge confirms.
    /// - Throws: ``Failure/refused(_:)`` with `not_subscribed` when this connection was not subscribed.
    public func unsubscribe(topic: String, timeout: Duration = .seconds(10)) async throws {
        try Self.checkTopic(topic)
        try await sendAndAwait(.unsubscribe(topic: topic), answer: .topic(topic), timeout: timeout)
    }

    /// `invalid_field`, as the edge would answer, for what is not a topic name.
    static func checkTopic(_ topic: String) throws {
        do {
            try TopicRules.checkTopic(topic)
        } catch {
            throw Failure.refused(error)
        }
    }
}
