/// Settings for a Kafka client: the brokers, plus any librdkafka property
/// (see librdkafka's CONFIGURATION.md) passed through unchanged.
///
/// Each client (producer, consumer, admin) starts from its own defaults; `properties` is applied after them, so it
/// overrides any default. Unknown or invalid properties make the client's `init` throw.
public struct KafkaConfig: Sendable {
    /// Comma-separated `host:port` list, librdkafka's `bootstrap.servers`.
    public var bootstrapServers: String
    /// librdkafka properties applied last.
    public var properties: [String: String]

    public init(bootstrapServers: String, properties: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
    }

    /// `defaults`, then `bootstrap.servers`, then `properties`, in the order they are applied.
    func resolved(defaults: KeyValuePairs<String, String>) -> [(String, String)] {
        var result = defaults.map { ($0.key, $0.value) }
        result.append(("bootstrap.servers", bootstrapServers))
        // Sorted so that a configuration error is reported the same way every run.
        result += properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return result
    }
}
