import Foundation
import Infrastructure
import Logging
import Metrics
import NIOCore
import Shared

/// Publishes the edge's connection events on `<prefix>.connections` (docs/kafka-contract.md, "Connection events"):
/// one `start` record when the edge starts (before it accepts devices), one `connect` record when a device is welcomed,
/// one `disconnect` record when that connection ends.
///
/// Guarantees: never blocks (fire and forget; safe on an event loop); every event ends up counted in
/// `cg_edge_connection_events_total` under exactly one outcome: `delivered` (the broker has it), `failed` (the delivery
/// report said no) or `refused` (the producer did not take it, for example because it is shutting down). Records are
/// keyed by device id, so the events of one device from this edge stay in order.
final class ConnectionEventPublisher: Sendable {
    private let producer: any RecordPublisher
    private let topics: Topics
    private let edgeID: String
    private let delivered = Counter(label: "cg_edge_connection_events_total", dimensions: [("outcome", "delivered")])
    private let failed = Counter(label: "cg_edge_connection_events_total", dimensions: [("outcome", "failed")])
    private let refused = Counter(label: "cg_edge_connection_events_total", dimensions: [("outcome", "refused")])

    init(producer: any RecordPublisher, topics: Topics, edgeID: String) {
        self.producer = producer
        self.topics = topics
        self.edgeID = edgeID
    }

    /// Publishes the edge's `start` event: every connection an earlier process with this edge id held is gone (it
    /// crashed, or was restarted before its liveness key could expire). Keyed by the edge id; `at` is this edge's clock,
    /// the same clock as its connections' `at`, so consumers can tell earlier connections from later ones.
    ///
    /// Unlike the other events it waits until the broker has it (three tries): without it, an earlier process's devices
    /// that never come back would read online for as long as this edge keeps its liveness key fresh.
    func publishStart(on eventLoop: any EventLoop, logger: Logger) async {
        let record = ConnectionEventRecord.started(edge: edgeID, atMs: Self.nowMs).record(topics: topics)
        for attempt in 1...3 {
            do {
                _ = try await producer.send(record, on: eventLoop).get()
                delivered.increment()
                return
            } catch {
                failed.increment()
                logger.warning("the edge's start event was not delivered (attempt \(attempt) of 3): \(error)")
                try? await Task.sleep(for: .milliseconds(500 * attempt))
            }
        }
        logger.error("the edge's start event was not delivered: devices an earlier process of this edge held may read online in presence until they connect again")
    }

    /// Publishes one event for the connection `session` of `device`, whose route claim had `epoch`; its outcome is
    /// counted on `eventLoop` (the connection's).
    func publish(_ kind: ConnectionEvent.Kind, device: String, session: String, epoch: Int64, on eventLoop: any EventLoop) {
        let event = ConnectionEvent(kind: kind, device: device, edge: edgeID, session: session, epoch: epoch,
                                    atMs: Self.nowMs)
        send(ConnectionEventRecord.connection(event).record(topics: topics), on: eventLoop)
    }

    /// The edge clock of `at`: Unix milliseconds.
    private static var nowMs: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private func send(_ record: OutgoingRecord, on eventLoop: any EventLoop) {
        let (delivered, failed) = (self.delivered, self.failed)
        do {
            try producer.send(record, on: eventLoop).whenComplete { result in
                switch result {
                case .success: delivered.increment()
                case .failure: failed.increment()
                }
            }
        } catch {
            refused.increment()
        }
    }
}
