import Infrastructure
import Logging
import Metrics
import ServiceKit
import ServiceLifecycle
import Shared

/// Consumes the edges' connection events (`<prefix>.connections`, group `<prefix>-presence-events`) on a thread of its
/// own, applies them to the presence state and announces the changes. An edge's `start` event takes offline the
/// devices its earlier process held (a crash and restart under the same id, faster than its liveness key expires).
///
/// Guarantees (at least once, by ``OutboxConsumer``): a batch's offsets are committed only after its transitions are in
/// Redis and every `change` they announce (to watchers and on rooms' topics) is in Kafka; if Redis or the broker fails, the batch is applied again after a
/// pause. That repeat is harmless: an event already applied re-announces the entry under the same id (the device drops
/// it), and an event older than the device's latest connection changes nothing. Records that are not valid events are
/// logged and skipped.
final class ConnectionEventConsumer: Service, Sendable {
    private let consumer: OutboxConsumer

    init(topics: Topics, kafka: KafkaConfig, store: PresenceStore, producer: KafkaProducer, logger: Logger) throws {
        let counted = (changed: Counter(label: "cg_presence_events_total", dimensions: [("outcome", "changed")]),
                       unchanged: Counter(label: "cg_presence_events_total", dimensions: [("outcome", "unchanged")]),
                       invalid: Counter(label: "cg_presence_events_total", dimensions: [("outcome", "invalid")]))
        consumer = try OutboxConsumer(
            name: "presence-events", topic: topics.connections, groupID: "\(topics.prefix)-presence-events",
            service: PresenceService.service, topics: topics, kafka: kafka, producer: producer, logger: logger
        ) { batch, outbox in
            // Events apply in the order they came: a start event first applies the connection events before it.
            var pending: [ConnectionEvent] = []
            func applyPending(_ outbox: inout Outbox) throws {
                for announcement in try store.apply(pending) {
                    guard let announcement else {
                        counted.unchanged.increment()
                        continue
                    }
                    counted.changed.increment()
                    try PresenceOpHandler.announce(announcement, to: &outbox, ttl: store.limits.messageTTL)
                }
                pending = []
            }
            for record in batch {
                switch Result(catching: { () throws(ConnectionEvent.Invalid) in try ConnectionEventRecord(record: record) }) {
                case .failure(let error):
                    counted.invalid.increment()
                    logger.warning("skipping \(record.topic)/\(record.partition)@\(record.offset): \(error) (docs/kafka-contract.md)")
                case .success(.connection(let event)):
                    pending.append(event)
                case .success(.started(let edge, let atMs)):
                    try applyPending(&outbox)
                    let gone = try store.edgeStarted(edge, atMs: atMs)
                    if !gone.isEmpty { logger.info("presence: edge \(edge) restarted; \(gone.count) of its earlier devices are now offline") }
                    counted.changed.increment(by: Int64(gone.count))
                    for announcement in gone { try PresenceOpHandler.announce(announcement, to: &outbox, ttl: store.limits.messageTTL) }
                }
            }
            try applyPending(&outbox)
        }
    }

    /// Whether the group has given this instance partitions.
    var isAssigned: Bool { consumer.isAssigned }

    func start() { consumer.start() }

    /// Runs until the group's graceful shutdown; then finishes the batch in hand, commits it and leaves the group.
    func run() async throws { try await consumer.run() }
}
