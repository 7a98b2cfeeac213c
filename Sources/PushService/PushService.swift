import Foundation
import Infrastructure
import Lifecycle
import Logging
import NIOCore
import ServiceKit
import ServiceLifecycle
import Shared

/// The push service (docs/push.md): devices subscribe over the channel (service `push`), app servers push with one
/// HTTP call, and the device gets the message now or when it next connects within the TTL. App servers can also
/// publish to device topics (`POST /v1/topics/{topic}`), one message to every subscriber. Operators can revoke
/// device tokens through its admin API (`/v1/revocations`, with `adminAPIKeys`), which writes the edges' revocations.
///
/// Wires three parts: the channel service on the SDK (device ops, and the producer that writes pushes to
/// `<prefix>.down`), the subscription store in Redis, and the HTTP API. Guarantees: a push is answered 201 only once it
/// is durable in Kafka; several instances can run side by side (they share the consumer group, the store and the rate
/// counters).
public final class PushService: @unchecked Sendable {
    /// The service name devices use.
    public static let service = "push"

    /// Settings of one push instance; the defaults are `gateway push`'s.
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8090
        /// The base of every subscription's `endpoint`; nil means `http://<host>:<port>` (the port actually bound).
        public var publicURL: String?
        public var maxPayloadBytes = 4096
        public var ratePerMinute = 60
        public var apiKeys: Set<String> = []
        /// Keys for `POST /v1/topics/{topic}`; none (the default) turns that endpoint off (403).
        public var topicAPIKeys: Set<String> = []
        /// Keys for the admin API (`/v1/revocations`); none (the default) turns it off (403).
        public var adminAPIKeys: Set<String> = []
        public var corsOrigin = "*"
        public var requestTimeout: TimeAmount = .seconds(30)

        /// The defaults of `gateway push`.
        public init() {}
    }

    private let configuration: Configuration
    private let channel: ChannelService
    private let redis: any RedisKeyspace & Service
    private let store: SubscriptionStore
    private let revocations: RevocationStore
    private let logger: Logger
    private var server: PushHTTPServer?

    /// Prepares the parts; nothing connects or listens before ``start()``.
    public init(topics: Topics, kafka: KafkaConfig, redis: RedisSettings, configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        channel = ChannelService(name: Self.service, topics: topics, kafka: Self.producerDefaults(kafka), logger: logger)
        self.redis = redis.connect(logger: logger)
        store = SubscriptionStore(redis: self.redis, prefix: topics.prefix)
        revocations = RevocationStore(redis: self.redis, keys: RedisKeys(prefix: topics.prefix))
    }

    /// `kafka` with `message.timeout.ms` = ``KafkaProducer/timeoutInsideConsumer`` (5 s) unless it sets one: an app
    /// server waits for the broker's answer, so a push gives up after 5 s (503) rather than after librdkafka's default
    /// of 5 minutes. Not longer: the same producer answers device ops on the consumer's thread, which must poll every
    /// 10 s (it was 10 s, which the service's start-up check now refuses).
    public static func producerDefaults(_ kafka: KafkaConfig) -> KafkaConfig {
        var kafka = kafka
        if kafka.properties["message.timeout.ms"] == nil && kafka.producerProperties["message.timeout.ms"] == nil {
            kafka.producerProperties["message.timeout.ms"] = String(KafkaProducer.timeoutInsideConsumer.inMilliseconds)
        }
        return kafka
    }

    /// Whether the consumer group has given this instance partitions of `<prefix>.up.push`.
    public var isAssigned: Bool { channel.isAssigned }

    /// The service's Kafka producer (pushes, device replies, topic messages), once started: for its readiness check
    /// and metrics.
    public var kafkaProducers: [(name: String, producer: KafkaProducer)] { channel.kafkaProducers }

    /// The HTTP port bound (after ``start()``).
    public var httpPort: Int? { server?.port }

    /// The base URL endpoints are built on.
    public var publicURL: String {
        configuration.publicURL ?? "http://\(configuration.host):\(server?.port ?? configuration.port)"
    }

    /// Binds the HTTP API (answering 503 for now), then joins the consumer group (checking the broker and creating the
    /// topics first, on a thread of its own), then takes pushes.
    /// - Throws: when the port cannot be bound or the broker cannot be reached (the HTTP API is closed again).
    public func start() async throws {
        let metrics = PushMetrics()
        let endpoint = PushEndpoint(channel: channel, store: store, ratePerMinute: configuration.ratePerMinute, metrics: metrics,
                                    logger: logger)
        // The HTTP API binds first, since endpoints name its port; until the channel service runs it answers 503.
        let server = try await PushHTTPServer.start(
            host: configuration.host, port: configuration.port,
            config: PushHTTPConfig(policy: PushPolicy(maxPayloadBytes: configuration.maxPayloadBytes, apiKeys: configuration.apiKeys,
                                                      topicAPIKeys: configuration.topicAPIKeys,
                                                      adminAPIKeys: configuration.adminAPIKeys),
                                   corsOrigin: configuration.corsOrigin, requestTimeout: configuration.requestTimeout),
            endpoint: endpoint, metrics: metrics, admin: RevocationAdmin(keeper: revocations, logger: logger))
        self.server = server
        let handler = PushDeviceHandler(store: store, publicURL: publicURL)
        do {
            let channel = self.channel
            // start() blocks on the broker (metadata, topic creation): keep it off the cooperative pool.
            try await offload { try channel.start { message, outbox in try handler.handle(message, outbox: &outbox) } }
            endpoint.markStarted()
        } catch {
            await server.close()
            throw error
        }
    }

    /// The started service's parts, in start order, for the process's one service group (empty before ``start()``).
    /// The group stops them in reverse: the HTTP API stops taking pushes, then the device batch in hand is finished and
    /// committed, the producer flushes and Redis closes.
    public var services: [(name: String, service: any Service)] {
        guard let server else { return [] }
        return [("redis", redis), ("push ops", channel), ("push http", ShutdownStep("push http") { await server.close() })]
    }
}
