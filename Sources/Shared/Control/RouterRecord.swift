/// A router's liveness record at `<prefix>:router:<router>` (docs/redis-schema.md): JSON
/// `{"started_at":MS,"group":"<consumer group>"}`, rewritten every third of its TTL (15 s) and deleted when the router
/// stops cleanly. Unknown JSON fields are ignored when read.
public struct RouterRecord: Codable, Sendable, Equatable {
    /// When the router process started, Unix ms.
    public var startedAtMs: Int64
    /// The consumer group its lanes consume the downstream topic in.
    public var group: String

    public init(startedAtMs: Int64, group: String) {
        self.startedAtMs = startedAtMs
        self.group = group
    }

    enum CodingKeys: String, CodingKey {
        case startedAtMs = "started_at", group
    }
}

/// One router as the cluster overview sees it (``ClusterOverview/routers()``).
public struct RouterStatus: Sendable, Equatable {
    public var id: String
    /// Whether its liveness record exists: false for a router that heartbeat within the last hour but whose record
    /// has expired (it crashed, or cannot reach Redis).
    public var alive: Bool
    public var startedAtMs: Int64?
    public var group: String?

    public init(id: String, alive: Bool, startedAtMs: Int64? = nil, group: String? = nil) {
        self.id = id
        self.alive = alive
        self.startedAtMs = startedAtMs
        self.group = group
    }
}
