import Foundation
import Logging
import Metrics
import ServiceKit
import Shared

/// Consumes the edges' connection events (`<prefix>.connections`, group `<prefix>-presence-events`) on a thread of its
/// own, applies them to the presence state and announces the changes.
///
/// Guarantees (at least once): a batch's offsets are committed only after its transitions are in Redis and every
/// `change` they announce is in Kafka; if Redis or the broker fails, the batch is applied again after a pause. That
/// repeat is harmless: an event already applied re-announces the entry under the same id (the device drops it), and an
/// event older than the device's latest connection changes nothing. Records that are not valid events are logged and
/// skipped.
final class ConnectionEventConsumer: @unchecked Sendable {
    private let consumer: KafkaConsumer
    private let loop: ConsumerLoop

    init(topics: Topics, kafka: KafkaConfig, store: PresenceStore, producer: KafkaProducer, logger: Logger) throws {
        let consumer = try KafkaConsumer(config: kafka, groupID: "\(topics.prefix)-presence-events", logger: logger)
        try consumer.subscribe(topics: [topics.connections])
        self.consumer = consumer
        let counted = (changed: Counter(label: "cg_presence_events_total", dimensions: [("outcome", "changed")]),
                       unchanged: Counter(label: "cg_presence_events_total", dimensions: [("outcome", "unchanged")]),
                       invalid: Counter(label: "cg_presence_events_total", dimensions: [("outcome", "invalid")]))
        loop = ConsumerLoop(name: "presence-events", consumer: consumer, logger: logger) { batch in
            var events: [ConnectionEvent] = []
            for record in batch {
                do { events.append(try ConnectionEvent(record: record)) } catch {
                    counted.invalid.increment()
                    logger.warning("skipping \(record.topic)/\(record.partition)@\(record.offset): \(error) (docs/kafka-contract.md)")
                }
            }
            var outbox = Outbox(topics: topics, service: PresenceService.service)
            do {
                for announcement in try store.apply(events) {
                    guard let announcement else {
                        counted.unchanged.increment()
                        continue
                    }
                    counted.changed.increment()
                    PresenceOpHandler.announce(announcement, to: &outbox, ttl: store.limits.messageTTL)
                }
            } catch {
                logger.warning("presence events: cannot apply a batch (\(error)); it will be applied again")
                Self.again(consumer, batch, logger: logger)
                return
            }
            let failed = producer.sendAllBlocking(outbox.records).filter { if case .failure = $0 { true } else { false } }
            guard failed.isEmpty else {
                logger.warning("presence events: \(failed.count) changes not delivered to Kafka; the batch will be applied again")
                Self.again(consumer, batch, logger: logger)
                return
            }
            try consumer.commit(batch)
        }
    }

    /// Whether the group has given this instance partitions.
    var isAssigned: Bool { consumer.hasAssignment }

    func start() { loop.start() }

    /// Finishes the batch in hand, commits it and leaves the group.
    func stop() {
        loop.stop()
        consumer.close()
    }

    /// Pauses, then moves the consumer back to the batch's first records so the next poll returns them again.
    private static func again(_ consumer: KafkaConsumer, _ batch: [KafkaRecord], logger: Logger) {
        Thread.sleep(forTimeInterval: 0.2)
        while (try? consumer.rewind(to: batch)) == nil {
            logger.error("presence events: cannot rewind to the batch, trying again")
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}
