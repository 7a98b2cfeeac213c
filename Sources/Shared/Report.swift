
/// A record telling a service that one of its messages was not delivered, on `<prefix>.report.<service>`.
///
/// A backend asks for reports by consuming that topic; the value is the message's payload, so the service can tell
/// which message it was even without its own bookkeeping.
public enum Report {
    public enum Reason: String, Sendable {
        case expired
        case mailboxFull = "mailbox_full"
    }

    public static func record(topics: Topics, device: String, entry: MailboxEntry, reason: Reason) -> OutgoingRecord {
        OutgoingRecord(
            topic: topics.report(entry.service), key: Array(device.utf8), value: entry.payload,
            headers: [
                KafkaHeader(RecordHeader.device, device),
                KafkaHeader(RecordHeader.service, entry.service),
                KafkaHeader(RecordHeader.messageID, entry.id),
                KafkaHeader(RecordHeader.contentType, entry.contentType),
                KafkaHeader(RecordHeader.reason, reason.rawValue),
                KafkaHeader(RecordHeader.expiresAt, String(entry.expiresAtMs)),
            ])
    }
}
