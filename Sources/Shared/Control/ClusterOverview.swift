import Foundation
import Infrastructure
import Lifecycle

/// The facts of the cluster for operators (the API's `GET /v1/edges` and `GET /v1/cluster`): the edges and routers
/// that heartbeat within the last hour (``ClusterRoster``), and the consumer lag of each consumer group.
///
/// Guarantees: edges and routers are found through their sets of known ids, never by scanning, so on a Redis Cluster
/// nothing is missed on another primary; each is listed once, by id, with `alive` telling whether its liveness record
/// exists now. Reads only (Redis in two round trips; Kafka on a thread of its own, never the cooperative pool).
public struct ClusterOverview: Sendable {
    public let redis: any RedisKeyspace
    public let keys: RedisKeys
    private let admin: KafkaAdmin?

    /// - Parameter admin: asked for consumer lag; without one, ``consumerGroups(_:)`` throws.
    public init(redis: any RedisKeyspace, keys: RedisKeys, admin: KafkaAdmin?) {
        self.redis = redis
        self.keys = keys
        self.admin = admin
    }

    /// Every edge known, by id.
    public func edges() async throws -> [EdgeStatus] {
        let ids = try await known(keys.knownEdges)
        let replies = await redis.pipeline(ids.flatMap { id in [
            RedisCommand(["GET", keys.edge(id)], key: keys.edge(id)),
            RedisCommand(["GET", keys.edgeStats(id)], key: keys.edgeStats(id)),
        ] })
        return try ids.enumerated().map { index, id in
            let record = try replies[2 * index].get().string.flatMap(EdgeRecord.init(value:))
            let stats = try replies[2 * index + 1].get().string.flatMap { try? Self.decode(EdgeStats.self, $0) }
            guard let record else { return EdgeStatus(id: id, alive: false) }
            return EdgeStatus(id: id, alive: true, instance: record.instance, address: "\(record.host):\(record.port)",
                              connections: stats?.connections, startedAtMs: stats?.startedAtMs,
                              draining: stats?.draining ?? false)
        }
    }

    /// Every router known, by id.
    public func routers() async throws -> [RouterStatus] {
        let ids = try await known(keys.knownRouters)
        let replies = await redis.pipeline(ids.map { RedisCommand(["GET", keys.router($0)], key: keys.router($0)) })
        return try zip(ids, replies).map { id, reply in
            guard let text = try reply.get().string else { return RouterStatus(id: id, alive: false) }
            let record = try? Self.decode(RouterRecord.self, text)
            return RouterStatus(id: id, alive: true, startedAtMs: record?.startedAtMs, group: record?.group)
        }
    }

    /// The lag of `groups` (every consumer group the broker lists, when nil), per group and topic
    /// (``KafkaAdmin/consumerGroupLag(groups:timeout:)``, which says what it reports and its limits).
    /// - Throws: ``KafkaError`` when the broker does not answer; ``ClusterOverviewError`` without an admin.
    public func consumerGroups(_ groups: [String]? = nil, timeout: Duration = .seconds(10)) async throws -> [ConsumerGroupLag] {
        guard let admin else { throw ClusterOverviewError.noKafka }
        return try await offload("consumer-lag") { try admin.consumerGroupLag(groups: groups, timeout: timeout) }
    }

    /// The ids of `set` whose last heartbeat is within ``ClusterRoster/forgetAfter``, sorted.
    private func known(_ set: String) async throws -> [String] {
        let oldest = Int64(Date().timeIntervalSince1970 * 1000) - ClusterRoster.forgetAfter.inMilliseconds
        let reply = try await redis.send(["ZRANGEBYSCORE", set, String(oldest), "+inf"], key: set)
        return (reply.array ?? []).compactMap(\.string).sorted()
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

/// Why the overview cannot answer.
public enum ClusterOverviewError: Error, CustomStringConvertible {
    /// It was made without a Kafka admin client.
    case noKafka

    public var description: String { "the cluster overview has no Kafka client: consumer lag is unavailable" }
}
