import Infrastructure
import Lifecycle
import Logging
import ServiceKit
import ServiceLifecycle
import Shared

/// The presence service (`gateway presence`, docs/presence.md): devices set their status and watch other devices,
/// explicitly or through rooms; the edges' connection events and the dead-edge sweeper keep `online` true to the
/// connections. State lives in Redis (``PresenceStore``), so several instances can run at once and share the work.
///
/// Three parts, each on a thread of its own: the ops devices send (`<prefix>.up.presence`, group `<prefix>-presence`,
/// on ``ChannelService``), the connection events (`<prefix>.connections`, group `<prefix>-presence-events`), and the
/// ``DeadEdgeSweeper``. What they send to watchers goes through `<prefix>.down` with a TTL of 60 s; what rooms' members
/// get is one record per change on the room's topic (``PresenceTopic``) in `<prefix>.topics`.
public final class PresenceService: @unchecked Sendable {
    /// The service name devices use.
    public static let service = "presence"

    private let topics: Topics
    private let kafka: KafkaConfig
    private let redisSettings: RedisSettings
    private let limits: PresenceLimits
    private let logger: Logger
    private let channel: ChannelService
    private var redis: (any RedisKeyspace & Service)?
    private var producer: KafkaProducer?
    private var events: ConnectionEventConsumer?
    private var sweeper: RecurringWork?

    /// A service for the installation `topics.prefix`; nothing runs before ``start()``.
    public init(topics: Topics, kafka: KafkaConfig, redis: RedisSettings, limits: PresenceLimits = PresenceLimits(),
                logger: Logger) {
        self.topics = topics
        self.kafka = kafka
        redisSettings = redis
        self.limits = limits
        self.logger = logger
        channel = ChannelService(name: Self.service, topics: topics, kafka: kafka, logger: logger)
    }

    /// Whether both consumer groups have given this instance partitions (before that it handles nothing).
    public var isAssigned: Bool { channel.isAssigned && (events?.isAssigned ?? false) }

    /// Both Kafka producers once started (the presence ops' replies, and the connection events' and sweeper's room
    /// changes): for the readiness check and metrics.
    public var kafkaProducers: [(name: String, producer: KafkaProducer)] {
        channel.kafkaProducers + (producer.map { [("presence-events", $0)] } ?? [])
    }

    /// Checks Redis and the broker, creates the topics if missing, joins both groups and starts the sweeper.
    /// Blocks for the checks: call it from a thread that may block (start-up), not an event loop.
    /// - Throws: when Redis or the broker cannot be reached, or librdkafka is too old.
    public func start() throws {
        let redis = redisSettings.connect(logger: logger)
        self.redis = redis
        try redis.checkReachable()
        let admin = try KafkaAdmin(config: kafka, logger: logger)
        try admin.checkReachable()
        try admin.createTopics([TopicSpec(name: topics.connections)])
        admin.close()
        let store = PresenceStore(redis: redis, prefix: topics.prefix, limits: limits)
        let handler = PresenceOpHandler(store: store, logger: logger)
        try channel.start { message, outbox in try handler.handle(message, &outbox) }
        // Connection events and the sweeper publish rooms' changes to topics too.
        let producer = try KafkaProducer(config: kafka.forTopicPublishing, messageTimeout: KafkaProducer.timeoutInsideConsumer,
                                         logger: logger)
        self.producer = producer
        let events = try ConnectionEventConsumer(topics: topics, kafka: kafka, store: store, producer: producer, logger: logger)
        self.events = events
        events.start()
        let sweeper = DeadEdgeSweeper(store: store, producer: producer, topics: topics, logger: logger).recurring()
        self.sweeper = sweeper
        sweeper.start()
    }

    /// The started service's parts, in start order, for the process's one service group (empty before ``start()``).
    /// The group stops them in reverse: the sweeper, then both consumers finish and commit their batches in hand and
    /// leave their groups, then the producer flushes and Redis closes.
    public var services: [(name: String, service: any Service)] {
        guard let redis, let producer, let events, let sweeper else { return [] }
        return [("redis", redis), ("kafka producer", producer), ("presence ops", channel),
                ("connection events", events), ("presence sweeper", sweeper)]
    }
}
