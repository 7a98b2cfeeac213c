/// A topic to create with ``KafkaAdmin/createTopics(_:timeout:)``.
public struct TopicSpec: Sendable {
    public var name: String
    public var partitions: Int32
    public var replicationFactor: Int16

    public init(name: String, partitions: Int32 = 4, replicationFactor: Int16 = 1) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
    }
}
