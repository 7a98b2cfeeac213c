import Foundation
import Logging
import Shared

/// A router: consumes the downstream topic in a consumer group, stores each message in its device's mailbox and
/// notifies the edge holding the device; sweeps expired messages out of mailboxes and reports them.
///
/// Offsets are committed only after a batch is stored, noticed and reported (at-least-once). If a batch fails (Redis
/// or the broker unreachable), the consumer is rewound and the batch routed again with backoff, so nothing is skipped.
///
/// A router runs `config.lanes` consumers of the same group, each on its own thread with its own partitions, so one
/// lane's waits for Redis and the broker overlap with another's; a device's records stay in one partition, hence one
/// lane, in order.
public final class Router: @unchecked Sendable {
    public let config: RouterConfig
    private let logger: Logger
    private var lanes: [(consumer: KafkaConsumer, loop: ConsumerLoop)] = []
    private var producer: KafkaProducer?
    private var redis: RedisClient?
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

    /// Messages forwarded to edges, and messages for offline devices, since start.
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
        let producer = try KafkaProducer(config: config.kafka, logger: logger)
        let mailbox = Mailbox(redis: redis, prefix: config.topics.prefix, limits: config.mailboxLimits)
        let router = DownstreamRouter(config: config, registry: DeviceRegistry(redis: redis, prefix: config.topics.prefix),
                                      mailbox: mailbox, producer: producer, logger: logger)
        for number in 1...max(1, config.lanes) {
            let consumer = try KafkaConsumer(config: config.kafka, groupID: config.effectiveGroupID, logger: logger)
            try consumer.subscribe(topics: [config.topics.down])
            lanes.append((consumer, lane(number, consumer: consumer, router: router)))
        }
        self.redis = redis
        self.producer = producer
        lanes.forEach { $0.loop.start() }
        sweeper = ExpirySweeper(topics: config.topics, mailbox: mailbox, producer: producer,
                                interval: config.sweepIntervalSeconds, logger: logger) { [self] count in
            counters.withLock { totals.expired += count }
        }
        sweeper?.start()
        let metrics = self.metrics
        let logger = self.logger
        depthSampler = Task {
            while !Task.isCancelled {
                do { metrics.mailboxMessages.record(try await mailbox.totalEntries()) } catch {
                    logger.debug("cannot read the mailbox depth: \(error)")
                }
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }

    /// One lane's loop: route a batch, commit it; on failure back off, rewind and route it again.
    private func lane(_ number: Int, consumer: KafkaConsumer, router: DownstreamRouter) -> ConsumerLoop {
        let logger = self.logger
        // Consecutive failed batches; touched only by this lane's thread.
        var failures = 0
        let lagGauge = metrics.consumerLag(lane: number)
        return ConsumerLoop(name: "router-lane-\(number)", consumer: consumer, maxRecords: config.batchSize, logger: logger) {
            [self] batch in
            do {
                let started = ContinuousClock.now
                let outcome = try router.route(batch)
                try consumer.commit(batch)
                metrics.batchLatency.record(duration: .now - started)
                metrics.count(outcome)
                if let lag = consumer.lag { lagGauge.record(lag) }
                counters.withLock { totals.add(outcome) }
                failures = 0
            } catch {
                metrics.batchFailures.increment()
                // Polling again (rather than retrying in place) keeps this lane in its consumer group through a
                // long outage; rewinding makes the next poll return the same batch, so nothing is skipped.
                failures += 1
                let backoff = min(0.05 * Double(1 << min(failures, 6)), 2)
                logger.warning("routing a batch of \(batch.count) failed (\(failures) in a row), retrying in \(backoff) s: \(error)")
                Thread.sleep(forTimeInterval: backoff)
                Self.rewind(consumer, to: batch, logger: logger)
            }
        }
    }

    /// Rewinds until it works: polling on past a batch that was not routed would let a later commit skip it.
    static func rewind(_ consumer: KafkaConsumer, to batch: [KafkaRecord], logger: Logger) {
        while true {
            do {
                try consumer.rewind(to: batch)
                return
            } catch {
                logger.error("cannot rewind to a failed batch, trying again: \(error)")
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    /// Finishes the batch in hand, commits it, leaves the group and flushes.
    public func stop() {
        sweeper?.stop()
        depthSampler?.cancel()
        lanes.forEach { $0.loop.stop() }
        lanes.forEach { $0.consumer.close() }
        producer?.shutdown()
        redis?.close()
    }
}
