import ChannelProtocol
import Infrastructure

/// A record of `<prefix>.report.<service>`: one message of the service that was not delivered, or, for a message that
/// asked for a receipt, also one that reached its device's edge or was acked (docs/kafka-contract.md, "Reports").
///
/// A backend asks for reports by consuming that topic; the value is the message's payload, so the service can tell
/// which message it was even without its own bookkeeping.
///
/// Guarantees: ``record(topics:)`` writes key = device id, value = the payload, and the headers `device`, `service`,
/// `id`, `content-type`, `reason` and `expires-at`. ``init(record:)`` reads back what it wrote, and refuses (nil) a
/// record without all six headers, or whose `device`, `service` or `id` breaks the protocol's rules, whose `reason` is
/// unknown or whose `expires-at` is not an integer.
public struct ReportRecord: Sendable, Equatable {
    /// What happened to the message: for `expired` and `mailbox_full`, why it was not delivered (every message);
    /// `delivered` and `acked` come only for messages that asked for a receipt.
    public enum Reason: String, Sendable {
        /// It was not acked before it expired (the device may have received it without acking).
        case expired
        /// The device's mailbox was full, so it was refused.
        case mailboxFull = "mailbox_full"
        /// Its notice was handed to the device's edge, which acked it (router).
        case delivered
        /// The device acked it (edge).
        case acked
    }

    /// The device the message was for.
    public var device: String
    /// The service that sent it; the report goes to its topic.
    public var service: String
    /// The message id (`<partition>-<offset>` of the downstream record if it had none).
    public var id: String
    /// The message's content type, as the router stored it.
    public var contentType: String
    /// What happened to it.
    public var reason: Reason
    /// When the message expires or expired, Unix milliseconds.
    public var expiresAtMs: Int64
    /// The original payload.
    public var payload: [UInt8]

    /// A report with the given fields.
    public init(device: String, service: String, id: String, contentType: String, reason: Reason, expiresAtMs: Int64,
                payload: [UInt8]) {
        self.device = device
        self.service = service
        self.id = id
        self.contentType = contentType
        self.reason = reason
        self.expiresAtMs = expiresAtMs
        self.payload = payload
    }

    /// The report on the mailbox `entry` of `device`.
    public init(device: String, entry: MailboxEntry, reason: Reason) {
        self.init(device: device, service: entry.service, id: entry.id, contentType: entry.contentType, reason: reason,
                  expiresAtMs: entry.expiresAtMs, payload: entry.payload)
    }

    /// The record to produce on `topics.report(service)`.
    public func record(topics: Topics) -> OutgoingRecord {
        OutgoingRecord(
            topic: topics.report(service), key: Array(device.utf8), value: payload,
            headers: [
                KafkaHeader(RecordHeader.device, device),
                KafkaHeader(RecordHeader.service, service),
                KafkaHeader(RecordHeader.messageID, id),
                KafkaHeader(RecordHeader.contentType, contentType),
                KafkaHeader(RecordHeader.reason, reason.rawValue),
                KafkaHeader(RecordHeader.expiresAt, String(expiresAtMs)),
            ])
    }

    /// The report in a consumed record, or nil when it is not one (see the type's guarantees).
    public init?(record: KafkaRecord) {
        guard let device = record.headerString(RecordHeader.device), FieldRules.isDeviceID(device),
              let service = record.headerString(RecordHeader.service), FieldRules.isServiceName(service),
              let id = record.headerString(RecordHeader.messageID), (try? FieldRules.checkMessageID(id)) != nil,
              let contentType = record.headerString(RecordHeader.contentType),
              let reason = record.headerString(RecordHeader.reason).flatMap(Reason.init(rawValue:)),
              let expiresAtMs = record.headerString(RecordHeader.expiresAt).flatMap({ Int64($0) }) else {
            return nil
        }
        self.init(device: device, service: service, id: id, contentType: contentType, reason: reason,
                  expiresAtMs: expiresAtMs, payload: record.value)
    }
}
