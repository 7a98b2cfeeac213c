import Logging
import Metrics
import ServiceKit
import Shared

/// Consumes the edges' connection events (`<prefix>.connections`, group `<prefix>-presence-events`) on a thread of its
/// own, applies them to the presence state and announces the changes.
///
/// Guarantees (at least once, by ``OutboxConsumer``): a batch's offsets are committed only after its transitions are in
/// Redis and every `change` they announce is in Kafka; if Redis or the broker fails, the batch is applied again after a
/// pause. That repeat is harmless: an event already applied re-announces the entry under the same id (the device drops
/// it), and an event older than the device's latest connection changes nothing. Records that are not valid events are
/// logged and skipped.
final class ConnectionEventConsumer: Sendable {
    private let consumer: OutboxConsumer

    init(topics: Topics, kafka: KafkaConfig, store: PresenceStore, producer: KafkaProducer, logger: Logger) throws {
        let counted = (changed: Counter(label: "cg_presence_events_total", dimensions: [("outcome", "changed")]),
                       unchanged: Counter(label: "cg_presence_events_total", dimensions: [("outcome", "unchanged")]),
                       invalid: Counter(label: "cg_presence_events_total", dimensions: [("outcome", "invalid")]))
        consumer = try OutboxConsumer(
            name: "presence-events", topic: topics.connections, groupID: "\(topics.prefix)-presence-events",
            service: PresenceService.service, topics: topics, kafka: kafka, producer: producer, logger: logger
        ) { batch, outbox in
            var events: [ConnectionEvent] = []
            for record in batch {
                do { events.append(try ConnectionEvent(record: record)) } catch {
                    counted.invalid.increment()
                    logger.warning("skipping \(record.topic)/\(record.partition)@\(record.offset): \(error) (docs/kafka-contract.md)")
                }
            }
            for announcement in try store.apply(events) {
                guard let announcement else {
                    counted.unchanged.increment()
                    continue
                }
                counted.changed.increment()
                PresenceOpHandler.announce(announcement, to: &outbox, ttl: store.limits.messageTTL)
            }
        }
    }

    /// Whether the group has given this instance partitions.
    var isAssigned: Bool { consumer.isAssigned }

    func start() { consumer.start() }

    /// Finishes the batch in hand, commits it and leaves the group.
    func stop() { consumer.stop() }
}
