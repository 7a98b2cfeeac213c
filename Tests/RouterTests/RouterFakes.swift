import Infrastructure
import NIOCore
import NIOConcurrencyHelpers
@testable import Shared
@testable import Router

// Fakes of the router's Redis-facing clients (RouterStores.swift); the producer and hand-off fakes are in TestDoubles.

/// The mailbox store: answers each item with the result the test lined up for its message id (stored, with a route
/// to `edge-a`, unless told), and records what it was asked to store.
final class FakeMailboxStore: MailboxStore {
    private let state = NIOLockedValueBox<(asked: [(device: String, entry: MailboxEntry)], results: [String: Mailbox.Stored], failing: Bool)>(([], [:], false))

    func storeAndRouteBlocking(_ items: [(device: String, entry: MailboxEntry)], timeout: Duration) throws -> [Mailbox.Stored] {
        try state.withLockedValue { state in
            if state.failing { throw RedisError(message: "redis is down", isConnectionError: true) }
            state.asked += items
            return items.enumerated().map { index, item in
                state.results[item.entry.id]
                    ?? Mailbox.Stored(result: .stored(seq: Int64(index + 1)),
                                      route: DeviceRoute(edge: "edge-a", session: "s-\(item.device)", epoch: 1, sinceMs: 0))
            }
        }
    }

    /// Receipts the router marked delivered, with their edge; each moves once, as the real script does.
    private let delivered = NIOLockedValueBox<[(device: String, id: String, edge: String)]>([])

    func markDelivered(_ items: [(device: String, id: String)], edge: String, on eventLoop: any EventLoop) -> EventLoopFuture<[Bool]> {
        eventLoop.makeSucceededFuture(delivered.withLockedValue { marked in
            items.map { item in
                guard !marked.contains(where: { $0.device == item.device && $0.id == item.id }) else { return false }
                marked.append((item.device, item.id, edge))
                return true
            }
        })
    }

    /// Every receipt marked delivered, in order.
    var markedDelivered: [(device: String, id: String, edge: String)] { delivered.withLockedValue { $0 } }

    /// Every item asked to be stored, in order.
    var asked: [(device: String, entry: MailboxEntry)] { state.withLockedValue { $0.asked } }

    /// The message `id` gets `result`, and the device's route is `route`.
    func answer(_ id: String, _ result: StoreResult, route: DeviceRoute?) {
        state.withLockedValue { $0.results[id] = Mailbox.Stored(result: result, route: route) }
    }

    func fail() { state.withLockedValue { $0.failing = true } }
}

/// The edges' liveness records: `edge-a` and `edge-b` live unless told.
final class FakeEdgeRecords: EdgeRecords {
    private let state = NIOLockedValueBox<(records: [String: EdgeRecord], asked: [Set<String>])>((
        ["edge-a": EdgeRecord(instance: "ia", host: "10.0.0.1", port: 7100),
         "edge-b": EdgeRecord(instance: "ib", host: "10.0.0.2", port: 7100)], []))

    func recordsBlocking(_ edges: Set<String>) throws -> [String: EdgeRecord] {
        state.withLockedValue { state in
            state.asked.append(edges)
            return state.records.filter { edges.contains($0.key) }
        }
    }

    var asked: [Set<String>] { state.withLockedValue { $0.asked } }

    func record(of edge: String) -> EdgeRecord? { state.withLockedValue { $0.records[edge] } }

    func kill(_ edge: String) { state.withLockedValue { _ = $0.records.removeValue(forKey: edge) } }
}
