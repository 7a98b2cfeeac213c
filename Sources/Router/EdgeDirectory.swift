import Foundation
import NIOConcurrencyHelpers
import Shared

/// Where the router reaches each edge: the edges' liveness records, read from Redis and kept for `maxAge`.
///
/// An edge without a record is dead (crashed past its heartbeat TTL, or stopped): its devices count as offline and
/// their messages wait in the mailboxes. A record at most `maxAge` old is used as it is; an edge that died within
/// that time is found out by the hand-off itself (it cannot connect, or gives up). A missing record is never kept:
/// an edge that has just (re)started is found at the next batch, so none of its devices misses a notice.
final class EdgeDirectory: Sendable {
    private let registry: DeviceRegistry
    private let maxAge: Duration
    private let known = NIOLockedValueBox<[String: (record: EdgeRecord, readAt: ContinuousClock.Instant)]>([:])

    init(registry: DeviceRegistry, maxAge: Duration = .seconds(1)) {
        self.registry = registry
        self.maxAge = maxAge
    }

    /// The records of `edges` (dead ones left out): cached ones as they are, the rest read in one pipeline.
    /// Blocks on that read: for the router's lane threads only.
    func recordsBlocking(_ edges: Set<String>) throws -> [String: EdgeRecord] {
        let now = ContinuousClock.now
        var found: [String: EdgeRecord] = [:]
        var stale: [String] = []
        known.withLockedValue { known in
            for edge in edges {
                if let entry = known[edge], now - entry.readAt < maxAge {
                    found[edge] = entry.record
                } else {
                    stale.append(edge)
                }
            }
        }
        guard !stale.isEmpty else { return found }
        let read = try registry.edgeRecordsBlocking(stale)
        known.withLockedValue { known in
            for edge in stale { known[edge] = read[edge].map { ($0, now) } }
            // Edges not asked about for a while are forgotten, so a fleet that comes and goes costs no memory.
            if known.count > 4 * max(edges.count, 64) { known = known.filter { now - $0.value.readAt < maxAge * 60 } }
        }
        return found.merging(read) { $1 }
    }
}
