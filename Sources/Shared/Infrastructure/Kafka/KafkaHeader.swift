/// One Kafka record header. Names may repeat within a record; order is kept.
public struct KafkaHeader: Sendable, Hashable {
    public var name: String
    public var value: [UInt8]

    public init(_ name: String, _ value: [UInt8]) {
        self.name = name
        self.value = value
    }

    /// A header whose value is the UTF-8 bytes of `value`.
    public init(_ name: String, _ value: String) {
        self.init(name, Array(value.utf8))
    }
}
