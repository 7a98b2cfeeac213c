import ChannelProtocol
import Infrastructure

/// A `connect` or `disconnect` record of `<prefix>.connections`, as an edge publishes it (docs/kafka-contract.md,
/// "Connection events"); ``ConnectionEventRecord`` is any record of that topic, this or an edge's `start`.
///
/// Guarantees: ``init(record:)`` accepts only a record with every header of the contract, a known `event`, a valid
/// device id that matches the key, and a decimal `epoch`; anything else is a ``ConnectionEvent/Invalid`` saying what.
/// ``record(topics:)`` writes key = device id, an empty value and the headers `event`, `device`, `edge`, `session`,
/// `epoch`, plus `at` when set (the edge always sets it), and ``init(record:)`` reads back what it wrote.
public struct ConnectionEvent: Sendable, Equatable {
    /// What happened: the edge welcomed the connection, or the connection ended.
    public enum Kind: String, Sendable {
        case connect, disconnect
    }

    public var kind: Kind
    /// The device, from its verified token; the record's key.
    public var device: String
    /// The edge that holds (held) the connection.
    public var edge: String
    /// The connection on that edge (the `session` of its `welcome`).
    public var session: String
    /// The route claim's epoch: per device it only grows, so the higher one is the newer connection.
    public var epoch: Int64
    /// When the edge saw it, Unix ms (edge clock); informational.
    public var atMs: Int64?

    /// An event with the given fields (edges publish it with ``record(topics:)``; consumers use ``init(record:)``).
    public init(kind: Kind, device: String, edge: String, session: String, epoch: Int64, atMs: Int64? = nil) {
        self.kind = kind
        self.device = device
        self.edge = edge
        self.session = session
        self.epoch = epoch
        self.atMs = atMs
    }

    /// Why a record is not a connection event.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The record to produce on `topics.connections`, keyed by the device so one device's events stay in order.
    public func record(topics: Topics) -> OutgoingRecord {
        var headers = [
            KafkaHeader(RecordHeader.event, kind.rawValue),
            KafkaHeader(RecordHeader.device, device),
            KafkaHeader(RecordHeader.edge, edge),
            KafkaHeader(RecordHeader.session, session),
            KafkaHeader(RecordHeader.epoch, String(epoch)),
        ]
        if let atMs { headers.append(KafkaHeader(RecordHeader.at, String(atMs))) }
        return OutgoingRecord(topic: topics.connections, key: Array(device.utf8), value: [], headers: headers)
    }

    /// Reads an event from a consumed record.
    /// - Throws: ``Invalid`` naming the first header that is missing or broken.
    public init(record: KafkaRecord) throws(Invalid) {
        func required(_ name: String) throws(Invalid) -> String {
            guard let value = record.headerString(name), !value.isEmpty else { throw Invalid(description: "no \(name) header") }
            return value
        }
        let event = try required(RecordHeader.event)
        guard let kind = Kind(rawValue: event) else { throw Invalid(description: "unknown event \"\(event.prefix(32))\"") }
        let device = try required(RecordHeader.device)
        guard FieldRules.isDeviceID(device) else { throw Invalid(description: "the device header is not a device id") }
        if let key = record.key, key != Array(device.utf8) { throw Invalid(description: "the key is not the device") }
        let edge = try required(RecordHeader.edge)
        guard Self.isEdgeID(edge) else {
            throw Invalid(description: "the edge header is not an edge id")
        }
        let session = try required(RecordHeader.session)
        guard session.utf8.count <= FieldRules.maxIDBytes else { throw Invalid(description: "the session header is too long") }
        let epochText = try required(RecordHeader.epoch)
        guard let epoch = Int64(epochText), epoch >= 0 else { throw Invalid(description: "the epoch \"\(epochText.prefix(32))\" is not a decimal number") }
        self.init(kind: kind, device: device, edge: edge, session: session, epoch: epoch,
                  atMs: record.headerString(RecordHeader.at).flatMap { Int64($0) })
    }

    /// Whether `edge` can be an edge id (it names a topic, so at most 249 of `A-Z a-z 0-9 . _ -`).
    static func isEdgeID(_ edge: String) -> Bool {
        !edge.isEmpty && edge.utf8.count <= 249 && edge.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }
}
