import ArgumentParser
import Foundation
import Infrastructure
import Logging
import Shared

/// Options every long-running component takes. Each flag has an environment variable (shown in --help) that
/// supplies its default, so containers can be configured either way.
struct CommonOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers (env CG_KAFKA).")
    var kafka: String = env("CG_KAFKA") ?? Defaults.kafkaBootstrap

    @Option(name: .customLong("kafka-property"),
            help: ArgumentHelp("Any librdkafka property, as key=value; repeatable.", valueName: "key=value"))
    var kafkaProperties: [String] = []

    @Option(name: .customLong("kafka-consumer-property"),
            help: ArgumentHelp("A librdkafka property for consumers only, as key=value; repeatable.", valueName: "key=value"))
    var kafkaConsumerProperties: [String] = []

    @Option(name: .customLong("kafka-producer-property"),
            help: ArgumentHelp("A librdkafka property for producers only, as key=value; repeatable.", valueName: "key=value"))
    var kafkaProducerProperties: [String] = []

    @Option(help: "Redis as host:port; in cluster mode, seed nodes as host:port,host:port,... (env CG_REDIS).")
    var redis: String = env("CG_REDIS") ?? "\(Defaults.redisHost):\(Defaults.redisPort)"

    @Option(help: "standalone (one server) or cluster (Redis Cluster, found through the --redis seeds) (env CG_REDIS_MODE).")
    var redisMode: String = env("CG_REDIS_MODE") ?? RedisSettings.Mode.standalone.rawValue

    @Option(help: "Replicas that must hold a write (Redis WAIT) before it is reported done; default 1 in cluster mode, 0 standalone (env CG_REDIS_MIN_REPLICAS).")
    var redisMinReplicas: Int? = Settings.optionalInt("CG_REDIS_MIN_REPLICAS")

    @Option(help: "Milliseconds to wait for those replicas; past it the write counts as failed and is retried (env CG_REDIS_REPLICA_TIMEOUT_MS).")
    var redisReplicaTimeoutMs: Int = Settings.int("CG_REDIS_REPLICA_TIMEOUT_MS", default: 1000)

    @Option(help: "Redis password (env CG_REDIS_PASSWORD); never logged.")
    var redisPassword: String?

    @Option(help: "Prefix of every topic and Redis key (env CG_PREFIX).")
    var prefix: String = env("CG_PREFIX") ?? Defaults.topicPrefix

    @Option(help: "trace, debug, info, notice, warning, error or critical (env CG_LOG_LEVEL).")
    var logLevel: String = env("CG_LOG_LEVEL") ?? "info"

    @Option(help: "Log lines as text or json (one JSON object per line, on standard error) (env CG_LOG_FORMAT).")
    var logFormat: String = env("CG_LOG_FORMAT") ?? "text"

    @Option(help: "Port of the admin endpoint (/healthz, /readyz, /metrics); none when unset (env CG_ADMIN_PORT).")
    var adminPort: Int? = Settings.optionalInt("CG_ADMIN_PORT")

    @Option(help: "Address the admin endpoint listens on (env CG_ADMIN_HOST).")
    var adminHost: String = env("CG_ADMIN_HOST") ?? "127.0.0.1"

    @Option(help: "A JSON configuration file; flags override environment variables, which override it (env CG_CONFIG). See docs/operations.md.")
    var config: String?

    @Flag(help: "Print the effective configuration (secrets redacted) as JSON and exit.")
    var printConfig = false

    @Flag(help: .hidden)
    var exitWithStdin = false

    func validate() throws {
        if let problem = Settings.problems.first { throw ValidationError(problem) }
        _ = try kafkaConfig()
        _ = try redisSettings()
        guard logFormat == "text" || logFormat == "json" else { throw ValidationError("--log-format: text or json") }
        if let adminPort, !(0...65535).contains(adminPort) { throw ValidationError("--admin-port: 0 to 65535") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \"\(logLevel)\"") }
        guard !prefix.isEmpty, prefix.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw ValidationError("--prefix: use letters, digits, - and _")
        }
    }

    var topics: Topics { Topics(prefix: prefix) }

    func kafkaConfig() throws -> KafkaConfig {
        KafkaConfig(
            bootstrapServers: kafka, properties: try keyValues(kafkaProperties, flag: "--kafka-property"),
            consumerProperties: try keyValues(kafkaConsumerProperties, flag: "--kafka-consumer-property"),
            producerProperties: try keyValues(kafkaProducerProperties, flag: "--kafka-producer-property"))
    }

    private func keyValues(_ pairs: [String], flag: String) throws -> [String: String] {
        var properties: [String: String] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("\(flag): expected key=value, got \"\(pair)\"")
            }
            properties[parts[0]] = parts[1]
        }
        return properties
    }

    /// Where Redis is, in which mode, and what a write must reach before it counts as done.
    func redisSettings() throws -> RedisSettings {
        guard let mode = RedisSettings.Mode(rawValue: redisMode) else {
            throw ValidationError("--redis-mode: standalone or cluster, got \"\(redisMode)\"")
        }
        let seeds = try redis.split(separator: ",").map { node -> RedisEndpoint in
            let parts = node.trimmingCharacters(in: .whitespaces).split(separator: ":").map(String.init)
            guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
                throw ValidationError("--redis: expected host:port\(mode == .cluster ? "[,host:port...]" : ""), got \"\(redis)\"")
            }
            return RedisEndpoint(host: parts[0], port: port, password: redisPassword ?? env("CG_REDIS_PASSWORD"))
        }
        guard !seeds.isEmpty else { throw ValidationError("--redis: no node given") }
        guard mode == .cluster || seeds.count == 1 else {
            throw ValidationError("--redis: one host:port in standalone mode (a list of seeds needs --redis-mode cluster)")
        }
        if let redisMinReplicas, redisMinReplicas < 0 { throw ValidationError("--redis-min-replicas: 0 or more") }
        guard redisReplicaTimeoutMs > 0 else { throw ValidationError("--redis-replica-timeout-ms: more than 0") }
        let replicas = redisMinReplicas ?? RedisSettings.defaultDurability(mode).replicas
        return RedisSettings(seeds: seeds, mode: mode,
                             durability: RedisDurability(replicas: replicas, timeout: .milliseconds(redisReplicaTimeoutMs)))
    }

    func logger(_ label: String) -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}

/// A setting's value from its environment variable or the configuration file (``Settings``).
func env(_ name: String) -> String? {
    Settings.string(name)
}
