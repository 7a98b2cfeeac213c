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

    /// The inbox of one edge: what the router hands to the devices that edge holds.
    public func edgeInbox(_ edge: String) -> String { "\(prefix).edge.\(edge)" }
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
}
