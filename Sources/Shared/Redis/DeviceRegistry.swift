import Foundation

// Redis schema of the device registry (all keys start with a deployment prefix, e.g. "cg"):
//
// <prefix>:route:<device>   hash  edge     id of the edge holding the device's WebSocket
//                                 session  id of that connection (unique per connection)
//                                 epoch    the claim's epoch (decimal)
//                                 since    claim time, unix ms, Redis server clock (decimal)
//                           TTL routeTTL (default 1 h), set by claim and extended in batches by the
//                           holding edge (refresh) only while the route still names its session.
//                           Deleted by release only while it still names the releasing session.
// <prefix>:epoch:<device>   string, decimal counter: the device's last epoch; each claim adds 1.
//                           TTL epochTTL (default 30 days), renewed by every claim, so devices that
//                           are gone for good cost no memory forever. A missing counter (expired, or a
//                           Redis without persistence restarted) restarts from the server clock in ms,
//                           above any epoch handed out before: epochs per device never go backwards.
// <prefix>:edge:<edgeId>    string, unix ms of the last heartbeat. TTL 15 s (default), rewritten by the
//                           edge about every 5 s; deleted on clean shutdown. A route whose edge key is
//                           missing is reported as edgeDead.
//
// Every operation is one Lua script per device (atomic on the server); batches are pipelined.
// The lookup script reads the edge key it finds in the route, a key it cannot declare up front, so the
// schema assumes a single Redis primary (with or without replicas), not Redis Cluster.

/// The device → edge registry in Redis (schema above).
///
/// Guarantees: a claim atomically bumps the device's epoch and replaces its route; a release or refresh by
/// a connection that has been replaced changes nothing, so a slow old edge can never erase or prolong a
/// newer connection's route; epochs of a device only grow.
public final class DeviceRegistry: Sendable {
    public let redis: RedisClient
    public let prefix: String
    public let routeTTL: Duration
    public let epochTTL: Duration

    public init(redis: RedisClient, prefix: String, routeTTL: Duration = .seconds(3600),
                epochTTL: Duration = .seconds(30 * 24 * 3600)) {
        self.redis = redis
        self.prefix = prefix
        self.routeTTL = routeTTL
        self.epochTTL = epochTTL
    }

    func routeKey(_ device: String) -> String { Self.routeKey(prefix: prefix, device: device) }
    func epochKey(_ device: String) -> String { "\(prefix):epoch:\(device)" }
    func edgeKey(_ edge: String) -> String { Self.edgeKey(prefix: prefix, edge: edge) }

    /// The key of a device's route, for other components' scripts that must read it (the presence service).
    public static func routeKey(prefix: String, device: String) -> String { "\(prefix):route:\(device)" }

    /// The key of an edge's liveness (heartbeat), for other components' scripts that must read it.
    public static func edgeKey(prefix: String, edge: String) -> String { "\(prefix):edge:\(edge)" }

    /// Atomically (one Lua script): bumps the epoch, writes the route for this session and sets its TTL.
    /// Returns the new route and the route it replaced, if any, so the caller can tell the old edge to close
    /// the old connection. `replaced` is nil when the old route named this same session (a retried claim).
    public func claim(device: String, edge: String, session: String) async throws -> (route: DeviceRoute, replaced: DeviceRoute?) {
        let reply = try await redis.run(
            DeviceRegistryScripts.claim, keys: [routeKey(device), epochKey(device)],
            args: [edge, session, String(Self.ms(routeTTL)), String(Self.ms(epochTTL))])
        guard let fields = reply.array, fields.count == 6, let epoch = fields[0].int, let since = fields[1].int else {
            throw RedisError.reply("unexpected reply to the claim script: \(reply)")
        }
        let route = DeviceRoute(edge: edge, session: session, epoch: epoch, sinceMs: since)
        let replaced = DeviceRoute(fields: fields[2...]).flatMap { $0.session == session ? nil : $0 }
        return (route, replaced)
    }

    /// Compare-and-delete: deletes the route only if it still names `session`; returns whether it deleted.
    public func release(device: String, session: String) async throws -> Bool {
        try await redis.run(DeviceRegistryScripts.release, keys: [routeKey(device)], args: [session]).int == 1
    }

    /// Extends the TTL of each route that still names the given session (one pipeline of script calls).
    /// Returns how many were refreshed; throws the first failure if any call failed.
    public func refresh(_ routes: [(device: String, session: String)]) async throws -> Int {
        guard !routes.isEmpty else { return 0 }
        let ttl = String(Self.ms(routeTTL))
        let results = await redis.run(DeviceRegistryScripts.refresh, invocations: routes.map {
            .init(keys: [routeKey($0.device)], args: [$0.session, ttl])
        })
        return try results.reduce(0) { $0 + (try $1.get().int == 1 ? 1 : 0) }
    }

    /// Looks up many devices in one pipeline (one script call each): the route and whether its edge's
    /// heartbeat key exists. Results are in `devices` order. Blocks: for the router's dedicated thread only.
    public func lookupBlocking(devices: [String], timeout: Duration = .seconds(5)) throws -> [RouteLookup] {
        guard !devices.isEmpty else { return [] }
        let edgePrefix = edgeKey("")
        let results = try redis.runBlocking(DeviceRegistryScripts.lookup, invocations: devices.map {
            .init(keys: [routeKey($0)], args: [edgePrefix])
        }, timeout: timeout)
        return try results.map { try Self.lookup(from: $0.get()) }
    }

    /// Looks up one device.
    public func lookup(device: String) async throws -> RouteLookup {
        Self.lookup(from: try await redis.run(DeviceRegistryScripts.lookup, keys: [routeKey(device)], args: [edgeKey("")]))
    }

    /// Sets or refreshes the edge's heartbeat key (value: now in unix ms) with `ttl`.
    public func heartbeat(edge: String, ttl: Duration = .seconds(15)) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try await redis.send(["SET", edgeKey(edge), String(now), "PX", String(Self.ms(ttl))])
    }

    /// Deletes the edge's heartbeat key (clean shutdown): its routes read as edgeDead from then on.
    public func removeEdge(_ edge: String) async throws {
        _ = try await redis.send(["DEL", edgeKey(edge)])
    }

    private static func lookup(from reply: RedisValue) -> RouteLookup {
        // An unreadable route cannot be delivered to, so it counts as no route.
        guard let fields = reply.array, fields.count == 5, let route = DeviceRoute(fields: fields[1...]) else {
            return .noRoute
        }
        return fields[0].int == 1 ? .online(route) : .edgeDead(route)
    }

    static func ms(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
