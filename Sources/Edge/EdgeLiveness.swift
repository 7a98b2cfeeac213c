import Lifecycle
import Logging
import ServiceLifecycle
import Shared

/// Keeps an edge known to routers while it runs: refreshes its liveness record and its stats (``ClusterRoster``) every
/// third of its TTL and its devices' routes every third of theirs. As a `Service` it stops with the group, after the
/// devices are gone: it then releases the routes of any device still listed and removes the liveness record, stats and
/// known id, so routers and the overview see at once that the edge left.
struct EdgeLiveness: Service {
    let config: EdgeConfig
    let record: EdgeRecord
    let registry: DeviceRegistry
    let roster: ClusterRoster
    let devices: ConnectedDevices
    /// What the heartbeat publishes; nil once the edge is gone.
    let stats: @Sendable () -> EdgeStats?
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown { await keepAlive() }
        for route in devices.routes() {
            _ = try? await registry.release(device: route.device, session: route.session)
        }
        try? await roster.withdrawEdge(config.edgeID)
    }

    private func keepAlive() async {
        let beat = Duration.milliseconds(config.edgeHeartbeatTTLSeconds * 1000 / 3)
        let refreshEvery = config.routeTTLSeconds * 1000 / 3
        var sinceRefresh = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: beat)
            if Task.isCancelled { break }
            do {
                guard let stats = stats() else { break }
                try await roster.publishEdge(config.edgeID, record: record, stats: stats,
                                             ttl: .seconds(config.edgeHeartbeatTTLSeconds))
            } catch {
                logger.warning("cannot refresh the edge's liveness key: \(error)")
            }
            sinceRefresh += Int(beat.inMilliseconds)
            if sinceRefresh >= refreshEvery {
                sinceRefresh = 0
                let routes = devices.routes()
                for start in stride(from: 0, to: routes.count, by: 1000) {
                    do { _ = try await registry.refresh(Array(routes[start..<min(start + 1000, routes.count)])) } catch {
                        logger.warning("cannot refresh device routes: \(error)")
                    }
                }
            }
        }
    }
}
