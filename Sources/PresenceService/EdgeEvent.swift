import Shared

/// One record of `<prefix>.connections` (docs/kafka-contract.md, "Connection events"): a device's connection began or
/// ended, or an edge started.
///
/// Guarantees: ``init(record:)`` accepts a `start` record only with a valid edge id and a decimal `at`, and any other
/// record only as a valid ``ConnectionEvent``; anything else is a ``ConnectionEvent/Invalid`` saying what.
public enum EdgeEvent: Sendable, Equatable {
    case connection(ConnectionEvent)
    /// The edge started at `atMs` (its own clock): connections it held before that, in an earlier process, are gone.
    case started(edge: String, atMs: Int64)

    /// Reads an event from a consumed record.
    public init(record: KafkaRecord) throws(ConnectionEvent.Invalid) {
        guard record.headerString(RecordHeader.event) == "start" else {
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
