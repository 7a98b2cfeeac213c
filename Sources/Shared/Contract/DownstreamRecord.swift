import ChannelProtocol
import Infrastructure

/// A record of `<prefix>.down`: one message a backend sends to a device (docs/kafka-contract.md, "Downstream records").
///
/// Guarantees: ``init(record:)`` accepts only what the router may route: a key that is a device id, a `service` header
/// that is a service name, and an id (the `id` header, or `<partition>-<offset>` when it has none) of 1–128 bytes
/// without control characters; anything else is nil. ``record(topics:)`` writes key = device id, value = the payload,
/// the headers `device`, `service`, `id` and `content-type`, plus `ttl` and `in-reply-to` when set and `receipt: 1`
/// when a receipt is asked for, and
/// ``init(record:)`` reads back what it wrote. The expiry is the router's policy, not the record's: see `ttlSeconds`.
public struct DownstreamRecord: Sendable, Equatable {
    /// From the key; the `device` header is written for backends' sake but never read.
    public var device: String
    /// The sending service: the device sees it as the `service` of the `msg`.
    public var service: String
    /// Unique per device across all services; the mailbox stores a message only once per id.
    public var id: String
    /// As given; when the record has none, `application/json` if the value is one valid JSON value, otherwise
    /// `application/octet-stream`.
    public var contentType: String
    /// How long the message may wait for the device, as the record asks (any integer, even 0 or less); nil when the
    /// header is missing or not an integer. The router applies its default and maximum, from the record's timestamp.
    public var ttlSeconds: Int64?
    /// For a reply, the id of the device message it answers. The gateway does not use it.
    public var inReplyTo: String?
    /// The value: any bytes, possibly none.
    public var payload: [UInt8]
    /// The sender asks for a delivery receipt (header `receipt: 1`): the gateway keeps one in Redis (``Receipt``) and
    /// adds `delivered` and `acked` to the service's reports.
    public var receipt: Bool

    /// A message with the given fields, as a backend sends it.
    public init(device: String, service: String, id: String, contentType: String, ttlSeconds: Int64? = nil,
                inReplyTo: String? = nil, payload: [UInt8], receipt: Bool = false) {
        self.device = device
        self.service = service
        self.id = id
        self.contentType = contentType
        self.ttlSeconds = ttlSeconds
        self.inReplyTo = inReplyTo
        self.payload = payload
        self.receipt = receipt
    }

    /// The record to produce on `topics.down`.
    public func record(topics: Topics) -> OutgoingRecord {
        var headers = [
            KafkaHeader(RecordHeader.device, device),
            KafkaHeader(RecordHeader.service, service),
            KafkaHeader(RecordHeader.messageID, id),
            KafkaHeader(RecordHeader.contentType, contentType),
        ]
        if let ttlSeconds { headers.append(KafkaHeader(RecordHeader.ttl, String(ttlSeconds))) }
        if let inReplyTo { headers.append(KafkaHeader(RecordHeader.inReplyTo, inReplyTo)) }
        if receipt { headers.append(KafkaHeader(RecordHeader.receipt, "1")) }
        return OutgoingRecord(topic: topics.down, key: Array(device.utf8), value: payload, headers: headers)
    }

    /// The message in a consumed downstream record, or nil when the record breaks the contract (no key or one that is
    /// not a device id, no `service` header or one that is not a service name, or an id that breaks the id rule).
    public init?(record: KafkaRecord) {
        guard let key = record.key, case let device = String(decoding: key, as: UTF8.self), FieldRules.isDeviceID(device),
              let service = record.headerString(RecordHeader.service), FieldRules.isServiceName(service) else {
            return nil
        }
        let id = record.headerString(RecordHeader.messageID) ?? "\(record.partition)-\(record.offset)"
        guard (try? FieldRules.checkMessageID(id)) != nil else { return nil }
        let contentType = record.headerString(RecordHeader.contentType)
            ?? (JSONScanner.isValidValue(record.value) ? ContentType.json : ContentType.binary)
        self.init(device: device, service: service, id: id, contentType: contentType,
                  ttlSeconds: record.headerString(RecordHeader.ttl).flatMap(Int64.init),
                  inReplyTo: record.headerString(RecordHeader.inReplyTo), payload: record.value,
                  receipt: record.headerString(RecordHeader.receipt) == "1")
    }
}
