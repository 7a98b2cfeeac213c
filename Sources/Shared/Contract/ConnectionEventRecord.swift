import Infrastructure
/// Any record of `<prefix>.connections` (docs/kafka-contract.md, "Connection events"): a device's connection began or
/// ended (a ``ConnectionEvent``), or an edge started.
///
/// Guarantees: ``init(record:)`` accepts a `start` record only with a valid edge id and a decimal `at`, and any other
/// record only as a valid ``ConnectionEvent``; anything else is a ``ConnectionEvent/Invalid`` saying what.
/// ``record(topics:)`` writes a `start` record as key = edge id, an empty value and the headers `event`, `edge` and
/// `at`, and ``init(record:)`` reads back what it wrote.
public enum ConnectionEventRecord: Sendable, Equatable {
    /// A device's connection was welcomed or ended.
    case connection(ConnectionEvent)
    /// The edge started at `atMs` (its own clock): connections it held before that, in an earlier process, are gone.
    case started(edge: String, atMs: Int64)

    /// The `event` header of an edge's start.
    private static let start = "start"

    /// The record to produce on `topics.connections`.
    public func record(topics: Topics) -> OutgoingRecord {
        switch self {
        case .connection(let event):
            return event.record(topics: topics)
        case .started(let edge, let atMs):
            return OutgoingRecord(topic: topics.connections, key: Array(edge.utf8), value: [], headers: [
                KafkaHeader(RecordHeader.event, Self.start),
                KafkaHeader(RecordHeader.edge, edge),
                KafkaHeader(RecordHeader.at, String(atMs)),
            ])
        }
    }

    /// Reads an event from a consumed record.
    /// - Throws: ``ConnectionEvent/Invalid`` saying what is missing or broken.
    public init(record: KafkaRecord) throws(ConnectionEvent.Invalid) {
        guard record.headerString(RecordHeader.event) == Self.start else {
            self = .connection(try ConnectionEvent(record: record))
            return
        }
        guard let edge = record.headerString(RecordHeader.edge), ConnectionEvent.isEdgeID(edge) else {
            throw ConnectionEvent.Invalid(description: "a start event needs an edge header with an edge id")
        }
        guard let at = record.headerString(RecordHeader.at).flatMap({ Int64($0) }), at >= 0 else {
            throw ConnectionEvent.Invalid(description: "a start event needs an at header in Unix ms")
        }
        self = .started(edge: edge, atMs: at)
    }
}
