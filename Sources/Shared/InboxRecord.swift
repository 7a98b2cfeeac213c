/// What the router puts on an edge's inbox topic, and what the edge reads back from it (docs/kafka-contract.md).
///
/// A notice carries the whole mailbox entry, so an edge whose device is caught up delivers it without reading Redis;
/// the mailbox stays the durable copy. A takeover asks the old edge to close a replaced connection.
public enum InboxRecord: Sendable, Equatable {
    case notice(device: String, entry: MailboxEntry)
    case takeover(device: String, replacedSession: String)

    /// The record to produce on `edge`'s inbox.
    public func outgoing(topics: Topics, edge: String) -> OutgoingRecord {
        switch self {
        case .notice(let device, let entry):
            return OutgoingRecord(
                topic: topics.edgeInbox(edge), key: Array(device.utf8), value: entry.payload,
                headers: [
                    KafkaHeader(RecordHeader.device, device),
                    KafkaHeader(RecordHeader.service, entry.service),
                    KafkaHeader(RecordHeader.messageID, entry.id),
                    KafkaHeader(RecordHeader.contentType, entry.contentType),
                    KafkaHeader(RecordHeader.seq, String(entry.seq)),
                    KafkaHeader(RecordHeader.expiresAt, String(entry.expiresAtMs)),
                ])
        case .takeover(let device, let session):
            return OutgoingRecord(
                topic: topics.edgeInbox(edge), key: Array(device.utf8), value: [],
                headers: [
                    KafkaHeader(RecordHeader.device, device),
                    KafkaHeader(RecordHeader.control, "close"),
                    KafkaHeader(RecordHeader.session, session),
                ])
        }
    }

    /// Reads an inbox record; nil for one that is neither (logged by the caller).
    public init?(_ record: KafkaRecord) {
        guard let device = record.headerString(RecordHeader.device) else { return nil }
        if record.headerString(RecordHeader.control) == "close" {
            guard let session = record.headerString(RecordHeader.session) else { return nil }
            self = .takeover(device: device, replacedSession: session)
            return
        }
        guard let service = record.headerString(RecordHeader.service),
              let id = record.headerString(RecordHeader.messageID),
              let seq = record.headerString(RecordHeader.seq).flatMap(Int64.init),
              let expires = record.headerString(RecordHeader.expiresAt).flatMap(Int64.init) else { return nil }
        self = .notice(device: device, entry: MailboxEntry(
            seq: seq, id: id, service: service,
            contentType: record.headerString(RecordHeader.contentType) ?? "application/octet-stream",
            expiresAtMs: expires, payload: record.value))
    }
}
