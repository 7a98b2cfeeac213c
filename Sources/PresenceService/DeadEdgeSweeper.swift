import Foundation
import Logging
import Metrics
import ServiceKit
import Shared

/// Every second, makes offline the devices of edges that died without saying goodbye (`kill -9`, a lost machine): an
/// edge with devices online in presence whose liveness key `<prefix>:edge:<edge>` (the registry's heartbeat) is gone.
/// Runs on a thread of its own.
///
/// Guarantees: a dead edge's devices read offline, and their watchers are sent the change, within a second of its
/// liveness key expiring (the edge heartbeat TTL after its last heartbeat) unless Redis or the broker fails; each device
/// is taken offline by one sweep only, even with several service instances sweeping, and only if it has not connected
/// elsewhere since. Sending the changes is retried a few times; if that fails, or the service dies between the sweep and
/// the send, those changes are lost (watchers still read the right state in their next snapshot).
final class DeadEdgeSweeper: @unchecked Sendable {
    private let store: PresenceStore
    private let producer: KafkaProducer
    private let topics: Topics
    private let logger: Logger
    private let interval: Duration
    private let sweptOffline = Counter(label: "cg_presence_swept_offline_total")
    private let condition = NSCondition()
    private var stopRequested = false
    private var finished = false

    init(store: PresenceStore, producer: KafkaProducer, topics: Topics, logger: Logger, interval: Duration = .seconds(1)) {
        self.store = store
        self.producer = producer
        self.topics = topics
        self.logger = logger
        self.interval = interval
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "presence-sweeper"
        thread.start()
    }

    /// Stops after the sweep in hand and waits until it has (at most a few seconds).
    func stop() {
        condition.lock()
        defer { condition.unlock() }
        stopRequested = true
        condition.broadcast()
        let deadline = Date().addingTimeInterval(15)
        while !finished { if !condition.wait(until: deadline) { break } }
    }

    private func run() {
        while !sleep() {
            do { try sweepOnce() } catch {
                logger.warning("presence sweeper: \(error)")
            }
        }
        condition.withLock {
            finished = true
            condition.broadcast()
        }
    }

    /// Waits one interval; true once a stop was requested.
    private func sleep() -> Bool {
        condition.withLock {
            let deadline = Date().addingTimeInterval(Double(DurationMs.of(interval)) / 1000)
            while !stopRequested { if !condition.wait(until: deadline) { break } }
            return stopRequested
        }
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
                    PresenceOpHandler.announce(announcement, to: &outbox, ttl: store.limits.messageTTL)
                }
                send(outbox.records)
            }
        }
    }

    private func send(_ records: [OutgoingRecord]) {
        var pending = records
        for attempt in 1...5 where !pending.isEmpty {
            let results = producer.sendAllBlocking(pending)
            pending = zip(pending, results).compactMap { record, result in
                if case .failure = result { return record }
                return nil
            }
            if !pending.isEmpty && attempt < 5 { Thread.sleep(forTimeInterval: 0.2 * Double(attempt)) }
        }
        if !pending.isEmpty { logger.error("presence sweeper: \(pending.count) changes could not be sent to Kafka and are lost") }
    }
}
