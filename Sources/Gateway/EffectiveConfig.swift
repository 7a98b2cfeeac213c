import Edge
import Foundation
import Infrastructure
import Shared

/// The configuration a command will run with, as JSON for `--print-config`: every value after flags, environment,
/// configuration file and defaults were resolved. Secrets (token secrets and private keys, the Redis password,
/// Kafka properties that hold credentials) are printed as `<redacted>`, and only whether they are set shows.
enum EffectiveConfig {
    static let redacted = "<redacted>"

    static func common(_ options: CommonOptions, kafka: KafkaConfig, redis: RedisSettings) -> [String: Any] {
        func properties(_ values: [String: String]) -> [String: String] {
            values.mapValues { _ in redacted }.merging(values.filter { !KafkaConfig.isSecret($0.key) }) { $1 }
        }
        return [
            "config-file": Settings.filePath ?? NSNull(),
            "kafka": kafka.bootstrapServers,
            "kafka-properties": properties(kafka.properties),
            "kafka-consumer-properties": properties(kafka.consumerProperties),
            "kafka-producer-properties": properties(kafka.producerProperties),
            "redis": redis.seedList,
            "redis-mode": redis.mode.rawValue,
            "redis-min-replicas": redis.durability.replicas,
            "redis-replica-timeout-ms": Int(redis.durability.timeout.inMilliseconds),
            "redis-password": redis.primary.password == nil ? NSNull() : redacted,
            "prefix": options.prefix,
            "log-level": options.logLevel,
            "log-format": options.logFormat,
            "admin-host": options.adminHost,
            "admin-port": options.adminPort.map { $0 as Any } ?? NSNull(),
        ]
    }

    static func edge(_ config: EdgeConfig, common: [String: Any]) -> [String: Any] {
        var all = common
        all["edge-id"] = config.edgeID
        all["edge-host"] = config.host
        all["edge-port"] = config.port
        all["services"] = config.services.names.sorted().map { name -> [String: Any] in
            let service = config.services.service(name)
            return ["name": name, "topic": service?.topic ?? "", "open-to-all-devices": service?.openToAllDevices ?? false]
        }
        all["token-keys"] = config.tokenKeys.map { key -> [String: Any] in
            switch key.material {
            case .hs256: return ["kid": key.kid, "alg": "HS256", "secret": redacted]
            case .es256(let publicKey, let privateKey):
                return ["kid": key.kid, "alg": "ES256", "public-key": publicKey == nil ? NSNull() : "set",
                        "private-key": privateKey == nil ? NSNull() : redacted]
            }
        }
        all["max-message-bytes"] = config.maxMessageBytes
        all["heartbeat"] = config.heartbeatSeconds
        all["hello-timeout"] = config.helloTimeoutSeconds
        all["token-grace"] = config.tokenGraceSeconds
        all["refresh-lead"] = config.refreshLeadSeconds
        all["connection-events"] = config.connectionEvents
        all["edge-heartbeat-ttl"] = config.edgeHeartbeatTTLSeconds
        all["handoff-host"] = config.handoffHost
        all["handoff-port"] = config.handoffPort
        all["handoff-advertise-host"] = Edge.advertisedHost(config)
        all["handoff-secret"] = config.handoff.secret.isEmpty ? NSNull() : redacted
        all["drain-rate"] = config.drain.rate
        all["drain-deadline"] = config.drain.deadline.components.seconds
        all["tls-cert"] = config.tls?.certificateChain ?? NSNull()
        all["tls-key"] = config.tls?.privateKey ?? NSNull()
        all["plaintext"] = config.plaintext
        let limits = config.limits
        all["handshake-timeout"] = limits.handshakeTimeoutSeconds
        all["max-messages-per-second"] = limits.messagesPerSecond
        all["message-burst"] = limits.messageBurst
        all["max-connections-per-ip"] = limits.maxConnectionsPerIP
        all["max-connects-per-ip-per-second"] = limits.connectsPerIPPerSecond
        all["connect-burst-per-ip"] = limits.connectBurstPerIP
        all["max-connections"] = limits.maxConnections.map { $0 as Any } ?? NSNull()
        all["allowed-origins"] = limits.allowedOrigins
        return all
    }

    static func print(_ values: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: values, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        FileHandle.standardOutput.write(data + Data([0x0A]))
    }
}
