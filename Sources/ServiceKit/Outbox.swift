import ChannelProtocol
import Infrastructure
import Shared

/// What a service's handler sends while it handles one batch of device messages: replies and messages to any device.
///
/// Guarantees: everything put here is durable in Kafka (`<prefix>.down`) before the batch's offsets are committed, so
/// a crash or a broker error repeats the batch (and these messages, with the same ids) rather than losing them.
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

    /// A downstream record by the contract (``DownstreamRecord``); a negative `ttl` is sent as 0 (already expired).
    static func record(topics: Topics, service: String, device: String, id: String, payload: Payload, ttl: Duration?,
                       inReplyTo: String?) -> OutgoingRecord {
        DownstreamRecord(device: device, service: service, id: id, contentType: payload.contentType,
                         ttlSeconds: ttl.map { max(0, $0.components.seconds) }, inReplyTo: inReplyTo,
                         payload: payload.bytes).record(topics: topics)
    }
}
