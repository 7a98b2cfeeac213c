import Admin
import ArgumentParser
import ChannelProtocol
import Edge
import Foundation
import Shared

struct EdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edge", abstract: "Run an edge: hold device WebSocket connections.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Edge id, unique in the installation; names its liveness record (env CG_EDGE_ID).")
    var id: String = env("CG_EDGE_ID") ?? "edge-\(ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" })"

    @Option(help: "Address to listen on (env CG_EDGE_HOST).")
    var host: String = env("CG_EDGE_HOST") ?? "127.0.0.1"

    @Option(help: "Port to listen on (env CG_EDGE_PORT).")
    var port: Int = Settings.int("CG_EDGE_PORT", default: 7001)

    @Option(help: "Comma-separated services devices may use (env CG_SERVICES).")
    var services: String = env("CG_SERVICES") ?? Defaults.services.joined(separator: ",")

    @Option(help: "A JSON service file (names, topics, services open to every device); overrides --services (env CG_SERVICES_FILE). See docs/security.md.")
    var servicesFile: String?

    @Option(help: "HS256 secret that signs device tokens (env CG_TOKEN_SECRET); the development secret when neither this nor --token-keys is set.")
    var tokenSecret: String?

    @Option(help: "A JSON key set of token keys (HS256 secrets, ES256 public keys) by kid, for rotation (env CG_TOKEN_KEYS); see docs/security.md.")
    var tokenKeys: String?

    @Option(help: "Largest WebSocket message accepted, in bytes (env CG_MAX_MESSAGE_BYTES).")
    var maxMessageBytes = Settings.int("CG_MAX_MESSAGE_BYTES", default: 64 * 1024)

    @Option(help: "Seconds between pings to each device (env CG_HEARTBEAT).")
    var heartbeat = Settings.int("CG_HEARTBEAT", default: 25)

    @Option(help: "Seconds a connection has to say hello (env CG_HELLO_TIMEOUT).")
    var helloTimeout = Settings.int("CG_HELLO_TIMEOUT", default: 10)

    @Option(help: "Seconds a connection may outlive its token's exp without a refresh before it is closed with 4008 (env CG_TOKEN_GRACE).")
    var tokenGrace = Settings.int("CG_TOKEN_GRACE", default: 10)

    @Option(help: "Seconds before a token's exp that the device is sent refresh_due; at most a fifth of the token's life (env CG_REFRESH_LEAD).")
    var refreshLead = Settings.int("CG_REFRESH_LEAD", default: 60)

    @Option(help: "On SIGTERM or SIGINT, devices told per second to reconnect elsewhere (env CG_DRAIN_RATE).")
    var drainRate = Settings.int("CG_DRAIN_RATE", default: 1_000)

    @Option(help: "On SIGTERM or SIGINT, seconds until the edge has drained and exits; the rate rises if needed to fit (env CG_DRAIN_DEADLINE).")
    var drainDeadline = Settings.int("CG_DRAIN_DEADLINE", default: 30)

    @Flag(inversion: .prefixedNo,
          help: "Publish a connect and a disconnect event per device connection on <prefix>.connections, for the presence service (env CG_CONNECTION_EVENTS=1/0).")
    var connectionEvents = Settings.bool("CG_CONNECTION_EVENTS", default: true)

    @Option(help: "Seconds the edge's liveness key lives in Redis without a refresh (rewritten every third of it); after a crash its devices count as offline this long after (env CG_EDGE_HEARTBEAT_TTL).")
    var edgeHeartbeatTtl = Settings.int("CG_EDGE_HEARTBEAT_TTL", default: 15)

    @Option(help: "Address the hand-off listener (routers and other edges connect here) listens on (env CG_HANDOFF_HOST).")
    var handoffHost: String = env("CG_HANDOFF_HOST") ?? "127.0.0.1"

    @Option(help: "Port of the hand-off listener; 0 takes any free port (the liveness record publishes it) (env CG_HANDOFF_PORT).")
    var handoffPort = Settings.int("CG_HANDOFF_PORT", default: 0)

    @Option(help: "Host routers reach the hand-off listener at, e.g. the pod's IP (default: --handoff-host, or 127.0.0.1 when that is 0.0.0.0 or ::) (env CG_HANDOFF_ADVERTISE_HOST).")
    var handoffAdvertiseHost: String? = env("CG_HANDOFF_ADVERTISE_HOST")

    @Option(help: "Secret every hand-off sender (routers, other edges) must present; the same on all edges and routers (env CG_HANDOFF_SECRET). Without it the listener takes notices from anyone who reaches it.")
    var handoffSecret: String?

    @Option(help: "Partitions the topic stream <prefix>.topics is created with, if missing (env CG_TOPIC_PARTITIONS).")
    var topicPartitions = Settings.int("CG_TOPIC_PARTITIONS", default: Int(Defaults.topicPartitions))

    @Option(help: "MiB of the topic stream each edge keeps in memory to serve devices that resume or fall behind (env CG_TOPIC_LOG_MIB).")
    var topicLogMib = Settings.int("CG_TOPIC_LOG_MIB", default: 64)

    @Option(help: "How far back a device resuming a topic is served, e.g. 24h or 30m; older messages are reported as a gap (env CG_TOPIC_REPLAY_WINDOW).")
    var topicReplayWindow = env("CG_TOPIC_REPLAY_WINDOW") ?? "24h"

    @Option(help: "Topics one connection may subscribe to; keep it below --message-burst so a reconnecting device can subscribe to all again at once (env CG_MAX_TOPICS_PER_CONNECTION).")
    var maxTopicsPerConnection = Settings.int("CG_MAX_TOPICS_PER_CONNECTION", default: EdgeConfig(edgeID: "").maxTopicsPerConnection)

    @OptionGroup var security: EdgeSecurityOptions

    func validate() throws {
        guard !id.isEmpty, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw ValidationError("--id: use letters, digits, - _ and .")
        }
        for service in serviceList where !FieldRules.isServiceName(service) {
            throw ValidationError("--services: \"\(service)\" is not a service name (a-z 0-9 - _)")
        }
        guard (1...16 * 1024 * 1024).contains(maxMessageBytes) else { throw ValidationError("--max-message-bytes: 1 to 16 MiB") }
        guard (0...3600).contains(tokenGrace) else { throw ValidationError("--token-grace: 0 to 3600 seconds") }
        guard (1...86400).contains(refreshLead) else { throw ValidationError("--refresh-lead: 1 to 86400 seconds") }
        guard drainRate >= 1 else { throw ValidationError("--drain-rate: at least 1 device per second") }
        guard (0...3600).contains(drainDeadline) else { throw ValidationError("--drain-deadline: 0 to 3600 seconds") }
        guard (1...3600).contains(edgeHeartbeatTtl) else { throw ValidationError("--edge-heartbeat-ttl: 1 to 3600 seconds") }
        guard (0...65535).contains(handoffPort) else { throw ValidationError("--handoff-port: 0 to 65535") }
        guard (1...1024).contains(topicPartitions) else { throw ValidationError("--topic-partitions: 1 to 1024") }
        guard (1...65536).contains(topicLogMib) else { throw ValidationError("--topic-log-mib: 1 to 65536") }
        guard parseDuration(topicReplayWindow) != nil else { throw ValidationError("--topic-replay-window: expected a duration like 90s, 30m, 24h or 7d") }
        guard (1...100_000).contains(maxTopicsPerConnection) else { throw ValidationError("--max-topics-per-connection: 1 to 100000") }
        if let host = handoffAdvertiseHost, host.isEmpty || host.contains(where: \.isWhitespace) {
            throw ValidationError("--handoff-advertise-host: a host name or address, without spaces")
        }
    }

    var serviceList: [String] { ServiceCatalogOption.names(services) }

    func run() async throws {
        let logger = common.logger("edge.\(id)")
        var config = EdgeConfig(edgeID: id)
        config.host = host
        config.port = port
        config.topics = common.topics
        config.services = try ServiceCatalogOption.catalog(file: servicesFile, names: services, topics: common.topics)
        config.kafka = try common.kafkaConfig()
        config.redis = try common.redisSettings()
        config.tokenKeys = try TokenKeysOption.keys(file: tokenKeys ?? env("CG_TOKEN_KEYS"), secret: tokenSecret ?? env("CG_TOKEN_SECRET"))
        config.maxMessageBytes = maxMessageBytes
        config.heartbeatSeconds = heartbeat
        config.helloTimeoutSeconds = helloTimeout
        config.tokenGraceSeconds = tokenGrace
        config.refreshLeadSeconds = refreshLead
        config.connectionEvents = connectionEvents
        config.edgeHeartbeatTTLSeconds = edgeHeartbeatTtl
        config.handoffHost = handoffHost
        config.handoffPort = handoffPort
        config.handoffAdvertisedHost = handoffAdvertiseHost
        config.handoff.secret = handoffSecret ?? env("CG_HANDOFF_SECRET") ?? ""
        config.topicPartitions = Int32(topicPartitions)
        config.topicLogBytes = topicLogMib * 1024 * 1024
        config.topicReplayWindow = parseDuration(topicReplayWindow)!
        config.maxTopicsPerConnection = maxTopicsPerConnection
        config.drain.rate = drainRate
        config.drain.deadline = .seconds(drainDeadline)
        // A short deadline keeps a proportionate margin for the last devices and the routes.
        config.drain.finalMargin = .milliseconds(min(3_000, drainDeadline * 1_000 / 10))
        try security.apply(to: &config)
        if common.printConfig {
            try EffectiveConfig.print(EffectiveConfig.edge(config, common: EffectiveConfig.common(common, kafka: config.kafka, redis: config.redis)))
            return
        }
        AdminEndpoint.bootstrapMetrics()
        let edge = Edge(config: config, logger: logger)
        let readiness = Readiness(checks: try AdminEndpoint.checks(common: common, redis: true,
                                                                     producers: { edge.kafkaProducers }, logger: logger), logger: logger)
        let admin: AdminServer?
        do {
            try await edge.start()
            admin = try await AdminEndpoint.start(common: common, name: id, readiness: readiness)
        } catch {
            Console.say("edge \(id) failed to start: \(error)")
            throw ExitCode.failure
        }
        Console.say("edge ready \(id) \(security.scheme)://\(host):\(edge.port ?? port)/v1/channel")
        // Readiness hears of the shutdown first: not ready from then on, so a load balancer stops sending devices here
        // while they are told to go. A drain asked over the hand-off listener fires the trigger: the same shutdown.
        try await ComponentLifecycle.run(AdminEndpoint.service(admin) + edge.services + [("readiness", readiness)],
                                         logger: logger, watchStdin: common.exitWithStdin,
                                         shutdownLimit: config.drain.deadline + .seconds(10), trigger: edge.shutdownTrigger)
    }
}
