import Foundation
import Infrastructure
import NIOCore

// Redis schema of the device registry (key names in RedisKeys; all start with a deployment prefix, e.g. "cg"):
//
// <prefix>:route:{<device>} hash  edge     id of the edge holding the device's WebSocket
//                                 session  id of that connection (unique per connection)
//                                 epoch    the claim's epoch (decimal)
//                                 since    claim time, unix ms, Redis server clock (decimal)
//                           TTL routeTTL (default 1 h), set by claim and extended in batches by the
//                           holding edge (refresh) only while the route still names its session.
//                           Deleted by release only while it still names the releasing session.
// <prefix>:epoch:{<device>} string, decimal counter: the device's last epoch; each claim adds 1.
//                           TTL epochTTL (default 30 days), renewed by every claim, so devices that
//                           are gone for good cost no memory forever. A missing counter (expired, or a
//                           Redis without persistence restarted) restarts from the server clock in ms,
//                           above any epoch handed out before: epochs per device never go backwards.
// <prefix>:edge:<edgeId>    string, the edge's EdgeRecord ("<instance> <port> <host>" of its hand-off
//                           listener). TTL 15 s (default), rewritten by the edge about every 5 s; deleted
//                           on clean shutdown. A route whose edge has no record counts as edgeDead.
//
// Every script touches the keys of one device only (one hash tag, one Redis Cluster slot); batches are
// pipelined (per node, on a cluster). A lookup reads routes first and the edges' records after, in a second step.

/// The device → edge registry in Redis (schema above).
///
/// Guarantees: a claim atomically bumps the device's epoch and replaces its route; a release or refresh by
/// a connection that has been replaced changes nothing, so a slow old edge can never erase or prolong a
/// newer connection's route; epochs of a device only grow.
public final class DeviceRegistry: Sendable {
    public let redis: any RedisKeyspace
    public let prefix: String
    public let routeTTL: Duration
    public let epochTTL: Duration

    public init(redis: any RedisKeyspace, prefix: String, routeTTL: Duration = .seconds(3600),
                epochTTL: Duration = .seconds(30 * 24 * 3600)) {
        self.redis = redis
        self.prefix = prefix
        self.routeTTL = routeTTL
        self.epochTTL = epochTTL
    }

    var keys: RedisKeys { RedisKeys(prefix: prefix) }
    func routeKey(_ device: String) -> String { keys.route(device) }
    func epochKey(_ device: String) -> String { keys.epoch(device) }
    func edgeKey(_ edge: String) -> String { keys.edge(edge) }

    /// The key of a device's route, for other components' scripts that must read it (the presence service).
    public static func routeKey(prefix: String, device: String) -> String { RedisKeys(prefix: prefix).route(device) }

    /// The key of an edge's liveness record, for other components' scripts that must read it.
    public static func edgeKey(prefix: String, edge: String) -> String { RedisKeys(prefix: prefix).edge(edge) }

    /// Atomically (one Lua script): bumps the epoch, writes the route for this session and sets its TTL.
    /// Returns the new route and the route it replaced, if any, so the caller can tell the old edge to close
    /// the old connection. `replaced` is nil when the old route named this same session (a retried claim).
    public func claim(device: String, edge: String, session: String) async throws -> (route: DeviceRoute, replaced: DeviceRoute?) {
        let reply = try await redis.run(
            DeviceRegistryScripts.claim, keys: [routeKey(device), epochKey(device)],
            args: [edge, session, String(routeTTL.redisMilliseconds), String(epochTTL.redisMilliseconds)])
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

    /// ``release(device:session:)`` for an event loop: the future, on `eventLoop`, is completed from the Redis thread.
    public func release(device: String, session: String, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        redis.run(DeviceRegistryScripts.release, keys: [routeKey(device)], args: [session], on: eventLoop).map { $0.int == 1 }
    }

    /// Extends the TTL of each route that still names the given session (one pipeline of script calls).
    /// Returns how many were refreshed; throws the first failure if any call failed.
    public func refresh(_ routes: [(device: String, session: String)]) async throws -> Int {
        guard !routes.isEmpty else { return 0 }
        let ttl = String(routeTTL.redisMilliseconds)
        let results = await redis.run(DeviceRegistryScripts.refresh, invocations: routes.map {
            .init(keys: [routeKey($0.device)], args: [$0.session, ttl])
        })
        return try results.reduce(0) { $0 + (try $1.get().int == 1 ? 1 : 0) }
    }

    /// Looks up many devices: their routes in one pipeline, then the records of the edges they name in a second.
    /// Results are in `devices` order. Blocks: for dedicated threads only (tools and tests; the router learns routes
    /// from its store script).
    public func lookupBlocking(devices: [String], timeout: Duration = .seconds(5)) throws -> [RouteLookup] {
        guard !devices.isEmpty else { return [] }
        let routes = try redis.pipelineBlocking(devices.map { RedisCommand(["HMGET", routeKey($0), "edge", "session", "epoch", "since"], key: routeKey($0)) },
                                                timeout: timeout).map { DeviceRoute(fields: try $0.get().array?[...] ?? []) }
        let edges = Array(Set(routes.compactMap { $0?.edge }))
        let records = try edgeRecordsBlocking(edges, timeout: timeout)
        return routes.map { route in
            guard let route else { return .noRoute }
            return records[route.edge] != nil ? .online(route) : .edgeDead(route)
        }
    }

    /// Looks up one device (two round trips: its route, then its edge's record).
    public func lookup(device: String) async throws -> RouteLookup {
        let reply = try await redis.send(["HMGET", routeKey(device), "edge", "session", "epoch", "since"], key: routeKey(device))
        guard let route = DeviceRoute(fields: reply.array?[...] ?? []) else { return .noRoute }
        return try await edgeRecord(route.edge) != nil ? .online(route) : .edgeDead(route)
    }

    /// The liveness record of `edge`, or nil when it has none (dead, stopped, never started) or it does not parse.
    public func edgeRecord(_ edge: String) async throws -> EdgeRecord? {
        try await redis.send(["GET", edgeKey(edge)], key: edgeKey(edge)).string.flatMap(EdgeRecord.init(value:))
    }

    /// The liveness records of `edges` in one pipeline; edges without a (readable) record are left out. Blocks.
    public func edgeRecordsBlocking(_ edges: [String], timeout: Duration = .seconds(5)) throws -> [String: EdgeRecord] {
        guard !edges.isEmpty else { return [:] }
        let replies = try redis.pipelineBlocking(edges.map { RedisCommand(["GET", edgeKey($0)], key: edgeKey($0)) }, timeout: timeout)
        var records: [String: EdgeRecord] = [:]
        for (edge, reply) in zip(edges, replies) {
            if let record = try reply.get().string.flatMap(EdgeRecord.init(value:)) { records[edge] = record }
        }
        return records
    }

    /// Sets or refreshes the edge's liveness record with `ttl`. Without a record (tests, tools) the edge counts as
    /// alive for lookups but cannot be handed anything.
    public func heartbeat(edge: String, record: EdgeRecord? = nil, ttl: Duration = .seconds(15)) async throws {
        let value = record?.value ?? "- 1 unreachable.invalid"
        _ = try await redis.send(["SET", edgeKey(edge), value, "PX", String(ttl.redisMilliseconds)], key: edgeKey(edge))
    }

    /// Deletes the edge's liveness record (clean shutdown): its routes read as edgeDead from then on.
    public func removeEdge(_ edge: String) async throws {
        _ = try await redis.send(["DEL", edgeKey(edge)], key: edgeKey(edge))
    }
}
