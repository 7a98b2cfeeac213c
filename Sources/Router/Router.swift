import Foundation
import Logging
import Shared

/// A router: consumes the downstream topic in a consumer group and hands each message to the edge holding its device.
///
/// Offsets are committed only after a batch's forwards are delivered (at-least-once). If a batch fails (Redis or the
/// broker unreachable), it is retried with backoff before anything newer is read, so nothing is skipped.
public final class Router: @unchecked Sendable {
    public let config: RouterConfig
    private let logger: Logger
    private var consumer: KafkaConsumer?
    private var producer: KafkaProducer?
    private var redis: RedisClient?
    private var loop: ConsumerLoop?
    private let counters = NSLock()
    private var totals = DownstreamRouter.Outcome()

    public init(config: RouterConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Whether the router's consumer has been given partitions (it routes nothing before).
    public var isAssigned: Bool { consumer?.hasAssignment ?? false }

    /// Messages forwarded to edges, and messages for offline devices, since start.
    public var forwarded: Int { counters.withLock { totals.forwarded } }
    public var offline: Int { counters.withLock { totals.offline } }

    public func start() throws {
        try Librdkafka.requireSupportedVersion()
        let admin = try KafkaAdmin(config: config.kafka, logger: logger)
        try admin.checkReachable()
        try admin.createTopics([TopicSpec(name: config.topics.down, partitions: config.downPartitions)])
        admin.close()
        let redis = RedisClient(endpoint: config.redis, logger: logger)
        try redis.checkReachable()
        let producer = try KafkaProducer(config: config.kafka, logger: logger)
        let router = DownstreamRouter(topics: config.topics, registry: DeviceRegistry(redis: redis, prefix: config.topics.prefix),
                                      producer: producer, logger: logger)
        let consumer = try KafkaConsumer(config: config.kafka, groupID: config.effectiveGroupID, logger: logger)
        try consumer.subscribe(topics: [config.topics.down])
        let loop = ConsumerLoop(name: "router", consumer: consumer, maxRecords: config.batchSize, logger: logger) {
            [self] batch in
            var backoff = 0.05
            while true {
                do {
                    let outcome = try router.route(batch)
                    try consumer.commit(batch)
                    counters.withLock {
                        totals.forwarded += outcome.forwarded
                        totals.offline += outcome.offline
                        totals.invalid += outcome.invalid
                    }
                    return
                } catch {
                    logger.warning("routing a batch of \(batch.count) failed, retrying in \(backoff) s: \(error)")
                    Thread.sleep(forTimeInterval: backoff)
                    backoff = min(backoff * 2, 2)
                }
            }
        }
        self.redis = redis
        self.producer = producer
        self.consumer = consumer
        self.loop = loop
        loop.start()
    }

    /// Finishes the batch in hand, commits it, leaves the group and flushes.
    public func stop() {
        loop?.stop()
        consumer?.close()
        producer?.shutdown()
        redis?.close()
    }
}
