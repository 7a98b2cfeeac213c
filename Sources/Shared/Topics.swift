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

    /// The topic stream: one record per message published to a device topic, key = the topic's name (so each topic
    /// keeps to one partition, in order), value = payload bytes; read by every edge (``TopicRecord``).
    public var topicStream: String { "\(prefix).topics" }
}
