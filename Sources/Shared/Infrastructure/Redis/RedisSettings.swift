import Logging
import ServiceLifecycle

/// Where the gateway's Redis is and how to use it: one server, or a Redis Cluster found through seed nodes, and how
/// many replicas a write must reach before it counts as done. Every component takes these settings and connects with
/// ``connect(logger:)``, so it runs unchanged in either mode.
public struct RedisSettings: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// One server (a primary, with or without replicas): every key lives on it.
        case standalone
        /// A Redis Cluster: keys spread over primaries by slot; the seeds only lead to the slot map.
        case cluster
    }

    /// The server (standalone: the first is used) or the cluster nodes to read the slot map from.
    public var seeds: [RedisEndpoint]
    public var mode: Mode
    public var durability: RedisDurability

    public init(seeds: [RedisEndpoint], mode: Mode = .standalone, durability: RedisDurability? = nil) {
        precondition(!seeds.isEmpty, "Redis settings need at least one node")
        self.seeds = seeds
        self.mode = mode
        self.durability = durability ?? Self.defaultDurability(mode)
    }

    /// One standalone server.
    public init(_ endpoint: RedisEndpoint, durability: RedisDurability = RedisDurability()) {
        self.init(seeds: [endpoint], mode: .standalone, durability: durability)
    }

    /// What is waited for unless configured: one replica in a cluster (a primary's crash then loses nothing that was
    /// reported done), none on a standalone server (which may have no replica at all).
    public static func defaultDurability(_ mode: Mode) -> RedisDurability {
        RedisDurability(replicas: mode == .cluster ? 1 : 0, timeout: .seconds(1))
    }

    /// The first seed (standalone: the server).
    public var primary: RedisEndpoint { seeds[0] }

    /// `host:port` of each seed, comma-separated (the form `--redis` takes).
    public var seedList: String { seeds.map(\.description).joined(separator: ",") }

    /// A client for these settings; it connects lazily (call `checkReachable` at start-up) and, as a `Service`, closes
    /// on the group's graceful shutdown.
    public func connect(logger: Logger) -> any RedisKeyspace & Service {
        switch mode {
        case .standalone: RedisClient(endpoint: primary, logger: logger, durability: durability)
        case .cluster: RedisClusterClient(seeds: seeds, logger: logger, durability: durability)
        }
    }
}
