import Foundation
import Infrastructure
import Lifecycle

/// Where edges and routers say that they are alive (docs/redis-schema.md, "Edge liveness record" and "Router liveness
/// record"): the writing side of ``ClusterOverview``.
///
/// Guarantees: every publish writes the liveness record and, for an edge, its stats, each with `ttl`, and puts the id
/// in its set of known ids scored by the time of this heartbeat (Unix ms, this machine's clock); ids whose last
/// heartbeat is older than ``forgetAfter`` are removed from the set at the same time. A withdraw deletes the records
/// and the id. Either throws the first command that failed.
public struct ClusterRoster: Sendable {
    /// How long an id that stopped heartbeating stays known (listed as not alive).
    public static let forgetAfter = Duration.seconds(3600)

    public let redis: any RedisKeyspace
    public let keys: RedisKeys

    public init(redis: any RedisKeyspace, keys: RedisKeys) {
        self.redis = redis
        self.keys = keys
    }

    /// An edge's heartbeat: its liveness record (what routers read), its stats, and its id among the known edges.
    public func publishEdge(_ edge: String, record: EdgeRecord, stats: EdgeStats, ttl: Duration) async throws {
        let ms = String(ttl.redisMilliseconds)
        try await send([
            RedisCommand(["SET", keys.edge(edge), record.value, "PX", ms], key: keys.edge(edge)),
            RedisCommand(["SET", keys.edgeStats(edge), try Self.json(stats), "PX", ms], key: keys.edgeStats(edge)),
        ] + known(edge, in: keys.knownEdges))
    }

    /// A cleanly stopped edge: its liveness record, stats and id go (its routes then read as edgeDead).
    public func withdrawEdge(_ edge: String) async throws {
        try await send([
            RedisCommand(["DEL", keys.edge(edge)], key: keys.edge(edge)),
            RedisCommand(["DEL", keys.edgeStats(edge)], key: keys.edgeStats(edge)),
            RedisCommand(["ZREM", keys.knownEdges, edge], key: keys.knownEdges),
        ])
    }

    /// A router's heartbeat: its liveness record and its id among the known routers.
    public func publishRouter(_ router: String, record: RouterRecord, ttl: Duration) async throws {
        try await send([
            RedisCommand(["SET", keys.router(router), try Self.json(record), "PX", String(ttl.redisMilliseconds)],
                         key: keys.router(router)),
        ] + known(router, in: keys.knownRouters))
    }

    /// A cleanly stopped router: its record and id go.
    public func withdrawRouter(_ router: String) async throws {
        try await send([
            RedisCommand(["DEL", keys.router(router)], key: keys.router(router)),
            RedisCommand(["ZREM", keys.knownRouters, router], key: keys.knownRouters),
        ])
    }

    private func known(_ id: String, in set: String) -> [RedisCommand] {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let oldest = now - Int64(Self.forgetAfter.inMilliseconds)
        return [
            RedisCommand(["ZADD", set, String(now), id], key: set),
            RedisCommand(["ZREMRANGEBYSCORE", set, "-inf", "(\(oldest)"], key: set),
        ]
    }

    private func send(_ commands: [RedisCommand]) async throws {
        for result in await redis.pipeline(commands) { _ = try result.get() }
    }

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }
}
