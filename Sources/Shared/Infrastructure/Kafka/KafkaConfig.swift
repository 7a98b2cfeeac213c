/// Settings for a Kafka client: the brokers, plus any librdkafka property
/// (see librdkafka's CONFIGURATION.md) passed through unchanged.
///
/// Each client (producer, consumer, admin) starts from its own defaults; `properties` is applied after them, so it
/// overrides any default. Unknown or invalid properties make the client's `init` throw.
public struct KafkaConfig: Sendable {
    /// Comma-separated `host:port` list, librdkafka's `bootstrap.servers`.
    public var bootstrapServers: String
    /// librdkafka properties applied last, to every client.
    public var properties: [String: String]
    /// Applied after `properties`, to consumers only (librdkafka warns about consumer properties given to producers).
    public var consumerProperties: [String: String]
    /// Applied after `properties`, to producers only.
    public var producerProperties: [String: String]

    public init(bootstrapServers: String, properties: [String: String] = [:],
                consumerProperties: [String: String] = [:], producerProperties: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
        self.consumerProperties = consumerProperties
        self.producerProperties = producerProperties
    }

    /// Whether a librdkafka property holds a secret (`sasl.password`, `ssl.key.password`, `ssl.key.pem`, …).
    public static func isSecret(_ name: String) -> Bool {
        let lower = name.lowercased()
        return ["password", "secret", "key.pem", "ssl.key", "token", "credential"].contains { lower.contains($0) }
    }

    /// The kinds of client, for choosing which role-specific properties apply.
    enum Role {
        case producer, consumer, admin
    }

    /// `defaults`, then `bootstrap.servers`, then `properties`, then the role's own properties, in the order they
    /// are applied.
    func resolved(defaults: KeyValuePairs<String, String>, role: Role) -> [(String, String)] {
        var result = defaults.map { ($0.key, $0.value) }
        result.append(("bootstrap.servers", bootstrapServers))
        // Sorted so that a configuration error is reported the same way every run.
        result += properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let own: [String: String]
        switch role {
        case .producer: own = producerProperties
        case .consumer: own = consumerProperties
        case .admin: own = [:]
        }
        result += own.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return result
    }
}
