import Infrastructure
import Lifecycle
import Logging
import ServiceLifecycle
import Shared

/// Keeps an edge's ``EdgeRevocations`` in step with Redis: it follows the revocations' change stream on a thread of
/// its own, with a Redis connection of its own (a blocking `XREAD` holds it), and reloads the whole set on every
/// change, so a revocation reaches the edge's connections within milliseconds of being written.
///
/// Guarantees: the set is reloaded after reading the stream's position, so no change between the two is missed; it is
/// also reloaded every 30 s and after any Redis error, so an edge that lost the stream (trimmed, failed over, Redis
/// down) catches up by itself.
final class RevocationFollower: Sendable {
    let thread: DedicatedThread
    static let block: Duration = .seconds(2)
    static let fullReloadEvery: Duration = .seconds(30)

    init(redis: any RedisKeyspace & Service, keys: RedisKeys, revocations: EdgeRevocations, devices: ConnectedDevices,
         logger: Logger) {
        let store = RevocationStore(redis: redis, keys: keys)
        thread = DedicatedThread(name: "revocations", stopLimit: Self.block + .seconds(4), logger: logger) { thread in
            defer { redis.close() }
            var position: String?
            var loadedAt = ContinuousClock.now
            var failing = false
            func reload() throws {
                let last = try store.lastChangeBlocking()
                let changed = revocations.replace(with: RevocationSet(try store.allBlocking()), devices: devices)
                if changed > 0 { logger.info("revocations: \(changed) new or changed, \(revocations.current.rules.count) in force") }
                position = last
                loadedAt = .now
            }
            while !thread.isStopRequested {
                do {
                    if position == nil || ContinuousClock.now - loadedAt > Self.fullReloadEvery { try reload() }
                    if let after = position, try store.changesBlocking(after: after, block: Self.block) != nil { try reload() }
                    if failing { logger.info("revocations: following Redis again") }
                    failing = false
                } catch {
                    if !failing { logger.warning("revocations: cannot follow Redis (\(error)); the rules loaded last stay in force") }
                    failing = true
                    position = nil
                    if thread.pause(for: .seconds(1)) { break }
                }
            }
        }
    }
}
