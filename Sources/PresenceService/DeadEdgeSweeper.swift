import Foundation
import Infrastructure
import Lifecycle
import Logging
import Metrics
import ServiceKit
import Shared

/// Every second, makes offline the devices of edges that died without saying goodbye (`kill -9`, a lost machine): an
/// edge with devices online in presence whose liveness key `<prefix>:edge:<edge>` (the registry's heartbeat) is gone.
/// Runs as ``RecurringWork``.
///
/// Guarantees: a dead edge's devices read offline, and their watchers and rooms are sent the change, within a second of its
/// liveness key expiring (the edge heartbeat TTL after its last heartbeat) unless Redis or the broker fails; each device
/// is taken offline by one sweep only, even with several service instances sweeping, and only if it has not connected
/// elsewhere since. Sending the changes is retried a few times; if that fails, or the service dies between the sweep and
/// the send, those changes are lost (watchers still read the right state in their next snapshot).
struct DeadEdgeSweeper: Sendable {
    let store: PresenceStore
    let producer: KafkaProducer
    let topics: Topics
    let logger: Logger
    private let sweptOffline = Counter(label: "cg_presence_swept_offline_total")

    init(store: PresenceStore, producer: KafkaProducer, topics: Topics, logger: Logger) {
        self.store = store
        self.producer = producer
        self.topics = topics
        self.logger = logger
    }

    /// The sweeps, every `interval`, on a thread of their own.
    func recurring(every interval: Duration = .seconds(1)) -> RecurringWork {
        RecurringWork(name: "presence-sweeper", every: interval, logger: logger) { try sweepOnce() }
    }

    /// One pass over the edges with online devices.
    func sweepOnce() throws {
        for edge in try store.edgesWithDevices() {
            var more = true
            while more {
                let (announcements, left) = try store.sweep(edge: edge)
                more = left
                guard !announcements.isEmpty else { continue }
                logger.info("presence sweeper: edge \(edge) is gone; \(announcements.count) of its devices are now offline")
                sweptOffline.increment(by: Int64(announcements.count))
                var outbox = Outbox(topics: topics, service: PresenceService.service)
                for announcement in announcements {
                    try PresenceOpHandler.announce(announcement, to: &outbox, ttl: store.limits.messageTTL)
                }
                send(outbox.records)
            }
        }
    }

    private func send(_ records: [OutgoingRecord]) {
        var pending = records
        for attempt in 1...5 where !pending.isEmpty {
            let results = producer.sendAllBlocking(pending, within: OutboxConsumer.sendDeadline)
            pending = zip(pending, results).compactMap { record, result in
                if case .failure = result { return record }
                return nil
            }
            if !pending.isEmpty && attempt < 5 { Thread.sleep(forTimeInterval: 0.2 * Double(attempt)) }
        }
        if !pending.isEmpty { logger.error("presence sweeper: \(pending.count) changes could not be sent to Kafka and are lost") }
    }
}
