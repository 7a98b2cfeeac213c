import ChannelProtocol
import Infrastructure
import Shared

/// What a service's handler sends while it handles one batch of device messages: replies and messages to any device,
/// and messages to device topics.
///
/// Guarantees: everything put here is durable in Kafka (`<prefix>.down`, `<prefix>.topics`) before the batch's offsets
/// are committed, so a crash or a broker error repeats the batch (and these messages, with the same ids) rather than
/// losing them. A repeated topic message is a new record, at a new position: subscribers see it twice.
public struct Outbox: Sendable {
    let topics: Topics
    let service: String
    /// What was put here, as downstream records by the contract, in order.
    public private(set) var records: [OutgoingRecord] = []

    /// An empty outbox for `service`. ``ChannelService`` makes one per batch; a service that produces from a thread of
    /// its own (for example while consuming another topic) makes its own and sends ``records`` itself, waiting for
    /// their delivery before it commits what caused them.
    public init(topics: Topics, service: String) {
        self.topics = topics
        self.service = service
    }

    /// Sends `payload` to the device that sent `message`. Use an id derived from the message's (for example
    /// `"\(service)-\(message.id)"`), so a repeated batch repeats the id and the device drops the duplicate.
    public mutating func reply(to message: DeviceMessage, id: String, payload: Payload, ttl: Duration? = nil) {
        records.append(Self.record(topics: topics, service: service, device: message.device, id: id, payload: payload,
                                   ttl: ttl, inReplyTo: message.id))
    }

    /// Sends `payload` to any device.
    public mutating func send(to device: String, id: String, payload: Payload, ttl: Duration? = nil) {
        records.append(Self.record(topics: topics, service: service, device: device, id: id, payload: payload, ttl: ttl,
                                   inReplyTo: nil))
    }

    /// Publishes `payload` to `topic`: one record on `<prefix>.topics`, which every edge delivers to the topic's
    /// subscribers as an `event` from this service (docs/services.md, "Topics"). The producer that sends the outbox
    /// must be made with ``Infrastructure/KafkaConfig/forTopicPublishing`` (``ChannelService``'s is).
    /// - Parameter id: the publisher's own id of the message, carried in the record's `id` header (edges ignore it);
    ///   derive it from what caused it, as for ``send(to:id:payload:ttl:)``.
    /// - Throws: ``InvalidTopicName``, adding nothing, when devices could not subscribe to `topic`.
    public mutating func publish(topic: String, payload: Payload, id: String? = nil) throws(InvalidTopicName) {
        records.append(try TopicPublisher.record(topics: topics, service: service, topic: topic, payload: payload, id: id))
    }

    /// A downstream record by the contract (``DownstreamRecord``); a negative `ttl` is sent as 0 (already expired).
    static func record(topics: Topics, service: String, device: String, id: String, payload: Payload, ttl: Duration?,
                       inReplyTo: String?) -> OutgoingRecord {
        DownstreamRecord(device: device, service: service, id: id, contentType: payload.contentType,
                         ttlSeconds: ttl.map { max(0, $0.components.seconds) }, inReplyTo: inReplyTo,
                         payload: payload.bytes).record(topics: topics)
    }
}
