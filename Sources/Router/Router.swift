import Foundation
import Logging
import Shared

/// A router: consumes the downstream topic in a consumer group, stores each message in its device's mailbox and
/// hands a notice to the edge holding the device over a direct connection (docs/handoff.md); sweeps expired messages
/// out of mailboxes and reports them.
///
/// Offsets are committed only after a batch is stored, handed off (acked by the edges, or given up) and reported
/// (at-least-once). If a batch fails to store (Redis unreachable), the consumer is rewound and the batch routed again
/// with backoff, so nothing is skipped.
///
/// A router runs `config.lanes` consumers of the same group (``RouterLane``), each on its own thread with its own
/// partitions; each lane stores one batch while earlier ones wait for their edges. A device's records stay in one
/// partition, hence one lane, in order.
public final class Router: @unchecked Sendable {
    public let config: RouterConfig
    private let logger: Logger
    private var lanes: [(consumer: KafkaConsumer, lane: RouterLane)] = []
    private var producer: KafkaProducer?
    private var redis: RedisClient?
    private var handoff: HandoffClient?
    private var sweeper: ExpirySweeper?
    private let counters = NSLock()
    private var totals = DownstreamRouter.Outcome()
    private let metrics = RouterMetrics()
    private var depthSampler: Task<Void, Never>?

    public init(config: RouterConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Whether the router's consumer has been given partitions (it routes nothing before).
    public var isAssigned: Bool { lanes.contains { $0.consumer.hasAssignment } }

    /// Messages stored, handed to edges, for offline devices, and expired, since start.
    public var outcome: (stored: Int, noticed: Int, offline: Int, expired: Int) {
        counters.withLock { (totals.stored, totals.noticed, totals.offline, totals.expired) }
    }

    public func start() throws {
        try Librdkafka.requireSupportedVersion()
        let admin = try KafkaAdmin(config: config.kafka, logger: logger)
        try admin.checkReachable()
        try admin.createTopics([TopicSpec(name: config.topics.down, partitions: config.downPartitions)])
        admin.close()
        let redis = RedisClient(endpoint: config.redis, logger: logger)
        try redis.checkReachable()
        var producerConfig = config.kafka
        if config.kafka.properties["message.timeout.ms"] == nil && config.kafka.producerProperties["message.timeout.ms"] == nil {
            producerConfig.producerProperties["message.timeout.ms"] = "10000"
        }
        let producer = try KafkaProducer(config: producerConfig, logger: logger)
        let mailbox = Mailbox(redis: redis, prefix: config.topics.prefix, limits: config.mailboxLimits)
        let handoff = HandoffClient(sender: config.routerID, settings: config.handoff, logger: logger)
        let router = DownstreamRouter(config: config, mailbox: mailbox,
                                      edges: EdgeDirectory(registry: DeviceRegistry(redis: redis, prefix: config.topics.prefix)),
                                      handoff: handoff, producer: producer, logger: logger)
        for number in 1...max(1, config.lanes) {
            let consumer = try KafkaConsumer(config: config.kafka, groupID: config.effectiveGroupID, logger: logger)
            try consumer.subscribe(topics: [config.topics.down])
            let lagGauge = metrics.consumerLag(lane: number)
            let lane = RouterLane(number: number, consumer: consumer, router: router, batchSize: config.batchSize,
                                  maxInFlight: config.maxBatchesInFlight, drainLimit: config.handoff.giveUpAfter + .seconds(1),
                                  logger: logger, metrics: metrics) {
                [self] outcome, took in
                self.metrics.batchLatency.record(duration: took)
                self.metrics.count(outcome)
                if let lag = consumer.lag { lagGauge.record(lag) }
                counters.withLock { totals.add(outcome) }
            }
            lanes.append((consumer, lane))
        }
        self.redis = redis
        self.producer = producer
        self.handoff = handoff
        lanes.forEach { $0.lane.start() }
        sweeper = ExpirySweeper(topics: config.topics, mailbox: mailbox, producer: producer,
                                interval: config.sweepIntervalSeconds, logger: logger) { [self] count in
            counters.withLock { totals.expired += count }
        }
        sweeper?.start()
        let depthGauge = metrics.mailboxMessages
        let logger = self.logger
        depthSampler = Task {
            while !Task.isCancelled {
                do { depthGauge.record(try await mailbox.totalEntries()) } catch {
                    logger.debug("cannot read the mailbox depth: \(error)")
                }
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }

    /// Finishes the batches in hand, commits them, leaves the group and flushes.
    public func stop() {
        sweeper?.stop()
        depthSampler?.cancel()
        // All lanes at once: each may wait for its hand-offs to finish or give up.
        lanes.forEach { $0.lane.requestStop() }
        lanes.forEach { $0.lane.waitUntilStopped(timeout: config.handoff.giveUpAfter + .seconds(2)) }
        lanes.forEach { $0.consumer.close() }
        handoff?.close()
        producer?.shutdown()
        redis?.close()
    }
}
