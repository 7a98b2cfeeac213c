import Foundation
import Infrastructure
import Logging
import ServiceLifecycle
import Shared

/// Consumes one topic in a consumer group, at least once, for a service that sends to devices because of what it
/// reads: ``ChannelService`` reads its devices' messages with it, and a service can read any other topic the same way
/// (the presence service reads the edges' connection events).
///
/// Guarantees: the handler sees every record at least once, in partition order, on the consumer's own thread (it may
/// block). A batch's offsets are committed only after the handler returned and everything it put in the ``Outbox`` is
/// durable in Kafka. If the handler throws, or Kafka does not take what it sent, the batch is read and handled again
/// after a pause, and nothing behind it in its partitions is handled before. As a `Service` it stops with its group:
/// it finishes the batch in hand, commits it and leaves the consumer group.
public final class OutboxConsumer: Service, Sendable {
    /// Handles one batch; put what goes to devices in the outbox. Throwing skips nothing: the batch comes again.
    public typealias BatchHandler = @Sendable ([KafkaRecord], inout Outbox) throws -> Void

    private let consumer: KafkaConsumer
    private let loop: ConsumerLoop

    /// How long the handler's messages may take to reach Kafka. With the producer's message timeout under it, a batch
    /// is done (or fails and comes again) well within the consumer's `max.poll.interval.ms`, so a broker outage never
    /// pushes this consumer out of its group.
    public static let sendDeadline: Duration = KafkaProducer.timeoutInsideConsumer + .seconds(1)

    /// Joins `groupID` on `topic` (nothing is read before ``start()``).
    /// - Parameters:
    ///   - name: names the thread and the log lines.
    ///   - service: the service whose name the outbox's messages carry.
    ///   - producer: sends the outbox; it may be shared with the rest of the service. If the handler publishes to
    ///     topics, make it with ``Infrastructure/KafkaConfig/forTopicPublishing``. Its message timeout must be at most
    ///     ``Infrastructure/KafkaProducer/timeoutInsideConsumer`` (this thread waits for its deliveries).
    /// - Throws: when the producer's message timeout is longer, or the consumer cannot be made.
    public init(name: String, topic: String, groupID: String, service: String, topics: Topics, kafka: KafkaConfig,
                producer: KafkaProducer, logger: Logger, handler: @escaping BatchHandler) throws {
        try producer.requireFitsInsideConsumer(name)
        let consumer = try KafkaConsumer(config: kafka, groupID: groupID, logger: logger)
        try consumer.subscribe(topics: [topic])
        self.consumer = consumer
        loop = ConsumerLoop(name: name, consumer: consumer, logger: logger) { batch in
            var outbox = Outbox(topics: topics, service: service)
            do {
                try handler(batch, &outbox)
            } catch {
                logger.warning("\(name): the handler failed (\(error)); the batch will be handled again")
                Self.again(consumer, batch, name: name, logger: logger)
                return
            }
            let failed = producer.sendAllBlocking(outbox.records, within: Self.sendDeadline).filter { if case .failure = $0 { true } else { false } }
            guard failed.isEmpty else {
                logger.warning("\(name): \(failed.count) messages to devices not delivered to Kafka; the batch will be handled again")
                Self.again(consumer, batch, name: name, logger: logger)
                return
            }
            try consumer.commit(batch)
        }
    }

    /// Whether the consumer group has given this instance partitions (it handles nothing before).
    public var isAssigned: Bool { consumer.hasAssignment }

    /// Starts reading on a thread of its own; later calls do nothing.
    public func start() { loop.start() }

    public func run() async throws { try await loop.run() }

    /// Pauses, then moves the consumer back to the batch's first records so the next poll returns them again.
    private static func again(_ consumer: KafkaConsumer, _ batch: [KafkaRecord], name: String, logger: Logger) {
        Thread.sleep(forTimeInterval: 0.2)
        while (try? consumer.rewind(to: batch)) == nil {
            logger.error("\(name): cannot rewind to the batch, trying again")
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}
