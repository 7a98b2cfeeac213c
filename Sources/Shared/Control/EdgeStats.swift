/// What an edge publishes about itself with every heartbeat, beside its liveness record (``EdgeRecord``), at
/// `<prefix>:edge-stats:<edge>` (docs/redis-schema.md): JSON `{"connections":N,"started_at":MS,"draining":BOOL}`.
///
/// A separate key keeps the liveness record's text as routers and other edges of any version parse it. Unknown JSON
/// fields are ignored when read, so later versions may add some.
public struct EdgeStats: Codable, Sendable, Equatable {
    /// Devices connected at the last heartbeat (or when the drain began).
    public var connections: Int
    /// When the edge process started, Unix ms.
    public var startedAtMs: Int64
    /// Whether the edge is draining (SIGTERM, or a drain asked over its hand-off listener): it takes no new devices
    /// and tells its own to reconnect elsewhere.
    public var draining: Bool

    public init(connections: Int, startedAtMs: Int64, draining: Bool) {
        self.connections = connections
        self.startedAtMs = startedAtMs
        self.draining = draining
    }

    enum CodingKeys: String, CodingKey {
        case connections, startedAtMs = "started_at", draining
    }
}

/// One edge as the cluster overview sees it (``ClusterOverview/edges()``).
public struct EdgeStatus: Sendable, Equatable {
    public var id: String
    /// Whether its liveness record exists: false for an edge that heartbeat within the last hour but whose record has
    /// expired (it crashed, or cannot reach Redis); its devices count as offline.
    public var alive: Bool
    /// Its process instance and hand-off address (`host:port`), from the liveness record; nil when not alive.
    public var instance: String?
    public var address: String?
    /// Its own last report (``EdgeStats``); nil when it has none (not alive, or an edge of an older version).
    public var connections: Int?
    public var startedAtMs: Int64?
    public var draining: Bool

    public init(id: String, alive: Bool, instance: String? = nil, address: String? = nil, connections: Int? = nil,
                startedAtMs: Int64? = nil, draining: Bool = false) {
        self.id = id
        self.alive = alive
        self.instance = instance
        self.address = address
        self.connections = connections
        self.startedAtMs = startedAtMs
        self.draining = draining
    }
}
