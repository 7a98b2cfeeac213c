/// The keys of the cluster's roster: what edges publish beside their liveness records, what routers publish, and the
/// sets of known ids that let the overview find them without scanning (a SCAN would have to visit every primary of a
/// Redis Cluster). None carries a hash tag; each is read and written on its own.
extension RedisKeys {
    /// String, JSON: an edge's connection count, start time and drain state (``EdgeStats``), with the same TTL as its
    /// liveness record (``edge(_:)``).
    public func edgeStats(_ edge: String) -> String { "\(prefix):edge-stats:\(edge)" }
    /// Sorted set: every edge id seen lately, scored by the Unix ms of its last heartbeat.
    public var knownEdges: String { "\(prefix):edges" }
    /// String, JSON: a router's liveness record (``RouterRecord``), with a TTL its heartbeat renews.
    public func router(_ router: String) -> String { "\(prefix):router:\(router)" }
    /// Sorted set: every router id seen lately, scored by the Unix ms of its last heartbeat.
    public var knownRouters: String { "\(prefix):routers" }
}
