import ChannelProtocol
import Foundation
import Infrastructure
import Logging
import ServiceLifecycle
import Shared

/// A backend service of the channel, on the Kafka contract (docs/kafka-contract.md, docs/services.md): it consumes
/// what devices send to `service` from `<prefix>.up.<service>` in the consumer group `<prefix>-<service>`, and sends to
/// devices through `<prefix>.down` and to device topics through `<prefix>.topics`.
///
/// Guarantees (at least once): the handler sees every device message at least once; a batch's offsets are committed
/// only after the handler returned for each of its messages and everything it put in the ``Outbox`` is durable in
/// Kafka. If sending fails, the batch is read again and handled again (the handler must tolerate repeats; ids it
/// derives from the message's id repeat too). As a `Service` it stops with its group: it finishes the batch in hand,
/// commits it, leaves the consumer group and flushes what is in flight.
public final class ChannelService: Service, @unchecked Sendable {
    /// Handles one device message; put replies and other messages in the outbox. Throwing skips nothing: the whole
    /// batch is read again after a pause.
    public typealias Handler = @Sendable (DeviceMessage, inout Outbox) throws -> Void

    public let name: String
    private let topics: Topics
    private let kafka: KafkaConfig
    private let logger: Logger
    private var consumer: OutboxConsumer?
    private var producer: KafkaProducer?

    /// - Parameters:
    ///   - name: the service name devices use (`echo`), which names its topic and consumer group.
    public init(name: String, topics: Topics, kafka: KafkaConfig, logger: Logger) {
        self.name = name
        self.topics = topics
        self.kafka = kafka
        self.logger = logger
    }

    /// Whether the consumer group has given this instance partitions (it handles nothing before).
    public var isAssigned: Bool { consumer?.isAssigned ?? false }

    /// The service's Kafka producer, named after the service, once started: for its readiness check and metrics.
    public var kafkaProducers: [(name: String, producer: KafkaProducer)] { producer.map { [(name, $0)] } ?? [] }

    /// Checks the broker, creates the service's topics if missing, joins the consumer group and starts handling.
    /// - Throws: when librdkafka is too old, or the broker cannot be reached.
    public func start(handler: @escaping Handler) throws {
        try Librdkafka.requireSupportedVersion()
        let admin = try KafkaAdmin(config: kafka, logger: logger)
        try admin.checkReachable()
        try admin.createTopics([TopicSpec(name: topics.up(name)), TopicSpec(name: topics.down), TopicSpec(name: topics.topicStream)])
        admin.close()
        // Any handler may publish to topics, so the one producer partitions as topic records need.
        let producer = try KafkaProducer(config: kafka.forTopicPublishing, messageTimeout: KafkaProducer.timeoutInsideConsumer,
                                         logger: logger)
        let (name, logger) = (self.name, self.logger)
        let consumer = try OutboxConsumer(
            name: name, topic: topics.up(name), groupID: "\(topics.prefix)-\(name)", service: name, topics: topics,
            kafka: kafka, producer: producer, logger: logger
        ) { batch, outbox in
            var skipped = 0
            for record in batch {
                guard let message = DeviceMessage(record: record, service: name) else {
                    skipped += 1
                    continue
                }
                try handler(message, &outbox)
            }
            if skipped > 0 { logger.warning("\(name): \(skipped) records without device or id header skipped") }
        }
        self.consumer = consumer
        self.producer = producer
        consumer.start()
    }

    /// Sends a message to a device outside the handling of a device message (a push), and returns once Kafka has it.
    /// - Throws: ``KafkaError`` when the broker did not take it; the caller may send it again with the same id.
    public func send(to device: String, id: String, payload: Payload, ttl: Duration? = nil) async throws {
        guard let producer else { throw KafkaError.closed("service \(name) (not started)") }
        _ = try await producer.send(Outbox.record(topics: topics, service: name, device: device, id: id, payload: payload,
                                                  ttl: ttl, inReplyTo: nil))
    }

    /// Publishes to a device topic outside the handling of a device message, and returns once Kafka has it
    /// (``TopicPublisher/publish(topic:payload:id:)``, with this service as `from`).
    /// - Returns: where the message is in the topic stream; subscribers see it at this position.
    /// - Throws: ``InvalidTopicName`` without sending; ``KafkaError`` when the broker did not take it.
    public func publish(topic: String, payload: Payload, id: String? = nil) async throws -> TopicPosition {
        guard let producer else { throw KafkaError.closed("service \(name) (not started)") }
        return try await TopicPublisher(service: name, topics: topics, producer: producer).publish(topic: topic, payload: payload, id: id)
    }

    /// Runs until the group's graceful shutdown; then finishes the batch in hand, commits it, leaves the group and
    /// flushes what is in flight.
    public func run() async throws {
        guard let consumer, let producer else { return try await gracefulShutdown() }
        try await consumer.run()
        await producer.shutdown()
    }
}
