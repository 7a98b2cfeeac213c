import ChannelProtocol
import Infrastructure

/// A record of `<prefix>.up.<service>`: one message a device sent to a service (docs/kafka-contract.md, "Upstream
/// records").
///
/// Guarantees: ``record(topic:)`` writes key = device id, value = the payload's bytes, and the headers `device`,
/// `service`, `id` and `content-type`, plus `edge`, `session`, `received-at` and `claims` when set (the edge always sets
/// them, so its records carry all eight). ``init(record:service:)`` reads any record that has a `device` and an `id` header,
/// and reads back what ``record(topic:)`` wrote.
public struct UpstreamRecord: Sendable, Equatable {
    /// The sender, as proven by its token.
    public var device: String
    /// The service it is for, the same as in the topic name.
    public var service: String
    /// The device's own id for the message, the same on every resend.
    public var id: String
    /// The exact bytes of the device's JSON `body`, or the decoded bytes of its base64 `data`.
    public var payload: Payload
    /// The edge and connection it arrived on; nil when the record has no such header.
    public var edge: String?
    public var session: String?
    /// When the edge received it, Unix milliseconds (edge clock); nil when missing or not an integer.
    public var receivedAtMs: Int64?
    /// The sender's verified claims, a JSON object's bytes (header `claims`); nil when the record has none.
    public var claims: [UInt8]?

    /// A message with the given fields; the edge sets `edge`, `session` and `receivedAtMs` on every one it publishes.
    public init(device: String, service: String, id: String, payload: Payload, edge: String? = nil,
                session: String? = nil, receivedAtMs: Int64? = nil, claims: [UInt8]? = nil) {
        self.device = device
        self.service = service
        self.id = id
        self.payload = payload
        self.edge = edge
        self.session = session
        self.receivedAtMs = receivedAtMs
        self.claims = claims
    }

    /// The record to produce on `topic` (the service's upstream topic, as the service catalog names it).
    public func record(topic: String) -> OutgoingRecord {
        var headers = [
            KafkaHeader(RecordHeader.device, device),
            KafkaHeader(RecordHeader.service, service),
            KafkaHeader(RecordHeader.messageID, id),
            KafkaHeader(RecordHeader.contentType, payload.contentType),
        ]
        if let edge { headers.append(KafkaHeader(RecordHeader.edge, edge)) }
        if let session { headers.append(KafkaHeader(RecordHeader.session, session)) }
        if let receivedAtMs { headers.append(KafkaHeader(RecordHeader.receivedAt, String(receivedAtMs))) }
        if let claims { headers.append(KafkaHeader(RecordHeader.claims, claims)) }
        return OutgoingRecord(topic: topic, key: Array(device.utf8), value: payload.bytes, headers: headers)
    }

    /// The message in a consumed upstream record, or nil when the record lacks the `device` or `id` header.
    ///
    /// The payload is JSON only when `content-type` is `application/json` and the value is one JSON value a frame can
    /// carry (``Payload/from(bytes:contentType:)``); anything else is binary.
    /// - Parameters:
    ///   - record: A record consumed from an upstream topic.
    ///   - service: The service whose topic it came from; used when the record has no `service` header.
    public init?(record: KafkaRecord, service: String) {
        guard let device = record.headerString(RecordHeader.device), let id = record.headerString(RecordHeader.messageID) else {
            return nil
        }
        self.init(device: device, service: record.headerString(RecordHeader.service) ?? service, id: id,
                  payload: Payload.from(bytes: record.value, contentType: record.headerString(RecordHeader.contentType)),
                  edge: record.headerString(RecordHeader.edge), session: record.headerString(RecordHeader.session),
                  receivedAtMs: record.headerString(RecordHeader.receivedAt).flatMap { Int64($0) },
                  claims: record.header(RecordHeader.claims))
    }
}
