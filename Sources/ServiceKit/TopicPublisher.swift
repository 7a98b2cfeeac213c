import ChannelProtocol
import Infrastructure
import Shared

/// Publishes messages to device topics outside a batch (docs/services.md, "Topics"): one record on
/// `<prefix>.topics` per message, whatever the number of subscribers; every edge delivers it to its subscribers as an
/// `event` whose `from` is ``service``.
///
/// Guarantees: ``publish(topic:payload:id:)`` returns only once the broker has acknowledged the record, with the
/// position subscribers see it at; a topic name devices could not subscribe to is refused before anything is sent.
/// Give it a producer made with ``Infrastructure/KafkaConfig/forTopicPublishing`` (``ChannelService`` does), so the
/// topic lands on the partition other publishers use.
public struct TopicPublisher: Sendable {
    /// The publishing service's name, which devices see as `from`.
    public let service: String
    private let topics: Topics
    private let producer: KafkaProducer

    /// - Parameters:
    ///   - service: a service name (1–64 of `a-z 0-9 - _`); edges drop records whose `service` is not one.
    ///   - producer: made with `kafka.forTopicPublishing`.
    public init(service: String, topics: Topics, producer: KafkaProducer) {
        self.service = service
        self.topics = topics
        self.producer = producer
    }

    /// Publishes `payload` to `topic` and returns where the broker stored it.
    /// - Parameter id: the publisher's own id of the message, carried in the record's `id` header (edges ignore it).
    /// - Throws: ``InvalidTopicName`` without sending; ``KafkaError`` when the broker did not take the record (a retry
    ///   publishes it again, at a new position).
    public func publish(topic: String, payload: Payload, id: String? = nil) async throws -> TopicPosition {
        let record = try Self.record(topics: topics, service: service, topic: topic, payload: payload, id: id)
        let delivery = try await producer.send(record)
        return TopicPosition(partition: delivery.partition, offset: delivery.offset)
    }

    /// The topic record by the contract (``TopicRecord``), after checking the topic's name.
    static func record(topics: Topics, service: String, topic: String, payload: Payload,
                       id: String?) throws(InvalidTopicName) -> OutgoingRecord {
        try InvalidTopicName.check(topic)
        return TopicRecord(topic: topic, service: service, contentType: payload.contentType, id: id, payload: payload.bytes)
            .record(topics: topics)
    }
}
