import Foundation
import Infrastructure
import Lifecycle
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
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
public final class Router: Sendable {
    public let config: RouterConfig
    private let logger: Logger
    private let running = NIOLockedValueBox<[(name: String, service: any Service)]>([])
    private let assigned = NIOLockedValueBox<[KafkaConsumer]>([])
    private let totals = NIOLockedValueBox(DownstreamRouter.Outcome())
    private let metrics = RouterMetrics()
    private let producer = NIOLockedValueBox<KafkaProducer?>(nil)

    public init(config: RouterConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Whether the router's consumer has been given partitions (it routes nothing before).
    public var isAssigned: Bool { assigned.withLockedValue { $0.contains { $0.hasAssignment } } }

    /// The router's Kafka producer (reports), once started: for its readiness check and metrics.
    public var kafkaProducers: [(name: String, producer: KafkaProducer)] {
        producer.withLockedValue { $0 }.map { [("router", $0)] } ?? []
    }

    /// Messages stored, handed to edges, for offline devices, and expired, since start.
    public var outcome: (stored: Int, noticed: Int, offline: Int, expired: Int) {
        totals.withLockedValue { ($0.stored, $0.noticed, $0.offline, $0.expired) }
    }

    /// Checks the broker and Redis (on a thread of their own), creates the downstream topic if missing, joins the group
    /// and starts routing.
    public func start() async throws {
        try Librdkafka.requireSupportedVersion()
        let (config, logger) = (self.config, self.logger)
        let redis = config.redis.connect(logger: logger)
        try await offload("router-start") {
            let admin = try KafkaAdmin(config: config.kafka, logger: logger)
            defer { admin.close() }
            try admin.checkReachable()
            try admin.createTopics([TopicSpec(name: config.topics.down, partitions: config.downPartitions)])
            try redis.checkReachable()
        }
        // A lane's batch waits for its reports before it is committed, and a stopping lane waits for its batches: the
        // producer gives up within the consumer's poll interval, like every producer a consumer waits for (it kept
        // trying for 10 s, the whole poll interval, before).
        let producer = try KafkaProducer(config: config.kafka, messageTimeout: KafkaProducer.timeoutInsideConsumer, logger: logger)
        do {
            try producer.requireFitsInsideConsumer("router")
        } catch {
            producer.shutdownBlocking(timeout: .zero)
            throw error
        }
        self.producer.withLockedValue { $0 = producer }
        let mailbox = Mailbox(redis: redis, prefix: config.topics.prefix, limits: config.mailboxLimits)
        let handoff = HandoffClient(sender: config.routerID, settings: config.handoff, logger: logger)
        let router = DownstreamRouter(config: config, mailbox: mailbox,
                                      edges: EdgeDirectory(registry: DeviceRegistry(redis: redis, prefix: config.topics.prefix)),
                                      handoff: handoff, producer: producer, eventLoop: handoff.eventLoop, logger: logger)
        var lanes: [RouterLane] = []
        for number in 1...max(1, config.lanes) {
            let consumer = try KafkaConsumer(config: config.kafka, groupID: config.effectiveGroupID, logger: logger)
            try consumer.subscribe(topics: [config.topics.down])
            let lagGauge = metrics.consumerLag(lane: number)
            let lane = RouterLane(number: number, consumer: consumer, router: router, batchSize: config.batchSize,
                                  maxInFlight: config.maxBatchesInFlight, drainLimit: config.handoff.giveUpAfter + .seconds(1),
                                  logger: logger, metrics: metrics) {
                [metrics, totals] outcome, took in
                metrics.batchLatency.record(duration: took)
                metrics.count(outcome)
                if let lag = consumer.lag { lagGauge.record(lag) }
                totals.withLockedValue { $0.add(outcome) }
            }
            lanes.append(lane)
            assigned.withLockedValue { $0.append(consumer) }
        }
        lanes.forEach { $0.start() }
        let sweeper = ExpirySweeper(topics: config.topics, mailbox: mailbox, producer: producer, logger: logger) { [totals] count in
            totals.withLockedValue { $0.expired += count }
        }.recurring(every: .milliseconds(Int64(config.sweepIntervalSeconds * 1000)))
        sweeper.start()
        let liveness = RouterLiveness(
            id: config.routerID,
            record: RouterRecord(startedAtMs: Int64(Date().timeIntervalSince1970 * 1000), group: config.effectiveGroupID),
            roster: ClusterRoster(redis: redis, keys: RedisKeys(prefix: config.topics.prefix)), logger: logger)
        do { try await liveness.publish() } catch {
            // Only the overview reads it: the router routes without it, and the next heartbeat tries again.
            logger.warning("cannot write the router's liveness record: \(error)")
        }
        let depthGauge = metrics.mailboxMessages
        running.withLockedValue {
            $0 = [
                ("redis", redis),
                ("kafka producer", producer),
                ("hand-off client", ShutdownStep("hand-off client") { _ = try? await offload { handoff.close() } }),
                ("lanes", RouterLanes(lanes)),
                ("expiry sweeper", sweeper),
                ("mailbox depth", MailboxDepthSampler(mailbox: mailbox, gauge: depthGauge, logger: logger)),
                ("liveness", liveness),
            ]
        }
    }

    /// The running router's parts as services, in start order, for the process's one service group (empty before
    /// ``start()``). The group stops them in reverse: the liveness record goes first, the lanes finish the batches in
    /// hand, commit them and leave the group, then the hand-off connections close, the producer flushes and Redis
    /// closes.
    public var services: [(name: String, service: any Service)] { running.withLockedValue { $0 } }
}
