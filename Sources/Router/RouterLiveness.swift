import Foundation
import Logging
import ServiceLifecycle
import Shared

/// Keeps a router listed in the cluster overview while it runs: its liveness record (``RouterRecord``) is written at
/// start and rewritten every third of ``ttl``; when the group stops the router, this service stops first and deletes
/// the record and the router's known id (docs/redis-schema.md, "Router liveness record").
struct RouterLiveness: Service {
    /// As an edge's default heartbeat TTL: a crashed router shows as not alive this long after.
    static let ttl = Duration.seconds(15)

    let id: String
    let record: RouterRecord
    let roster: ClusterRoster
    let logger: Logger

    /// The first heartbeat, before the router counts as started.
    func publish() async throws {
        try await roster.publishRouter(id, record: record, ttl: Self.ttl)
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.ttl / 3)
                if Task.isCancelled { break }
                do { try await publish() } catch {
                    logger.warning("cannot refresh the router's liveness record: \(error)")
                }
            }
        }
        try? await roster.withdrawRouter(id)
    }
}
