/// The names of the Kafka topics of one gateway installation, all under one prefix (docs/kafka-contract.md).
public struct Topics: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    /// What devices send to `service`: key = device id, value = payload bytes.
    public func up(_ service: String) -> String { "\(prefix).up.\(service)" }

    /// What services send to devices; the router consumes it.
    public var down: String { "\(prefix).down" }

    /// Reports to `service` about its messages that were not delivered (expired, or refused by a full mailbox).
    public func report(_ service: String) -> String { "\(prefix).report.\(service)" }

    /// Connection events: edges publish one record when a device is welcomed and one when its connection ends
    /// (key = device id, empty value, headers ``RecordHeader/event`` and the others of docs/kafka-contract.md), and one
    /// `start` record when an edge starts (key = edge id), so that its earlier incarnation's connections count as ended.
    public var connections: String { "\(prefix).connections" }
}

/// The header names of records on every topic of the contract (docs/kafka-contract.md).
public enum RecordHeader {
    /// The device the record is from (upstream) or for (downstream). Set by the edge from the device's token.
    public static let device = "device"
    /// The service the record is for (upstream) or from (downstream).
    public static let service = "service"
    /// The message id, unique per device and direction; duplicates carry the same id.
    public static let messageID = "id"
    /// `application/json` (the value is one JSON value) or `application/octet-stream`.
    public static let contentType = "content-type"
    /// The edge that received the message from the device (upstream only).
    public static let edge = "edge"
    /// The connection session on that edge (upstream only).
    public static let session = "session"
    /// When the edge received the message, Unix milliseconds as decimal text (upstream only).
    public static let receivedAt = "received-at"
    /// For a reply, the id of the device message it answers (optional).
    public static let inReplyTo = "in-reply-to"
    /// Downstream: seconds the message may wait for an offline device, decimal text (optional; the router's default
    /// applies when absent, its maximum when larger).
    public static let ttl = "ttl"
    /// Reports: when the message expires (or expired), Unix milliseconds as decimal text.
    public static let expiresAt = "expires-at"
    /// Reports: why the message was not delivered (`expired` or `mailbox_full`).
    public static let reason = "reason"
    /// Connection events: `connect`, `disconnect` or `start` (an edge started).
    public static let event = "event"
    /// Connection events: the epoch of the device's route claim, decimal text; per device it only grows.
    public static let epoch = "epoch"
    /// Connection events: when the edge saw it happen, Unix milliseconds as decimal text (edge clock).
    public static let at = "at"
}
