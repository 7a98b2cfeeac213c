import Logging

/// A Redis Cluster client built on one ``RedisClient`` (one pipelined hiredis connection and its thread) per primary.
///
/// Each command names the key that decides its slot; it goes to the primary the slot map names. Guarantees:
/// - `MOVED`: the map is read again (`CLUSTER SLOTS`, from any node that answers) and the command is sent to the node
///   the redirect names; `ASK`: the command alone goes to that node behind `ASKING`, and the map is kept. At most
///   ``maxRedirects`` redirects per command, then the last error is thrown.
/// - A slot without a primary fails at once with a clear error naming the slot, rather than guessing a node.
/// - A connection error (a primary that died) reads the map again before the error is thrown, so that the caller's
///   retry reaches the replica promoted in its place.
/// - Commands of one call to ``pipeline(_:)`` are grouped per primary, each group one pipeline, results in the order
///   given; each command is redirected on its own.
public final class RedisClusterClient: Sendable {
    public static let maxRedirects = 5

    private let seeds: [RedisEndpoint]
    private let template: RedisEndpoint
    private let logger: Logger
    private let state = Locked(State())

    private struct State {
        var map: RedisSlotMap?
        var clients: [RedisSlotMap.Node: RedisClient] = [:]
    }

    /// - Parameter seeds: nodes to read the slot map from (any of them will do); their password and timeouts apply
    ///   to every node.
    public init(seeds: [RedisEndpoint], logger: Logger) {
        precondition(!seeds.isEmpty, "a Redis Cluster client needs at least one seed node")
        self.seeds = seeds
        template = seeds[0]
        self.logger = logger
    }

    deinit { close() }

    /// The slot map last read, if any.
    public var slotMap: RedisSlotMap? { state.withLock { $0.map } }

    /// Reads the slot map from the first seed or known node that answers.
    /// - Throws: the last node's error when none answers, or a ``RedisError`` for a malformed reply.
    @discardableResult
    public func refreshSlotMap() async throws -> RedisSlotMap {
        let known = state.withLock { $0.map?.primaries ?? [] }.map { endpoint(for: $0) }
        var lastError: any Error = RedisError.connection("no Redis Cluster node to ask for the slot map")
        for candidate in known + seeds {
            do {
                let map = try RedisSlotMap(clusterSlots: try await client(for: candidate).send(["CLUSTER", "SLOTS"]))
                state.withLock { $0.map = map }
                return map
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// Sends one command to the primary of `key`'s slot, following redirects.
    public func send(_ args: [[UInt8]], key: [UInt8]) async throws -> RedisValue {
        try await pipeline([(args: args, key: key)])[0].get()
    }

    /// Text form of ``send(_:key:)``.
    public func send(_ args: [String], key: String) async throws -> RedisValue {
        try await send(args.map { Array($0.utf8) }, key: Array(key.utf8))
    }

    /// Sends commands grouped per primary (one pipeline each, side by side); results in the order given.
    public func pipeline(_ commands: [(args: [[UInt8]], key: [UInt8])]) async -> [Result<RedisValue, RedisError>] {
        var results = [Result<RedisValue, RedisError>?](repeating: nil, count: commands.count)
        var pending = Array(commands.indices)
        var asking: [Int: RedisSlotMap.Node] = [:]
        for attempt in 0...Self.maxRedirects {
            var map = state.withLock { $0.map }
            if map == nil { map = try? await refreshSlotMap() }
            var groups: [RedisSlotMap.Node: [Int]] = [:]
            for index in pending {
                let slot = RedisKeySlot.slot(of: commands[index].key)
                if let node = asking[index] ?? map?.primary(forSlot: slot) {
                    groups[node, default: []].append(index)
                } else {
                    results[index] = .failure(.connection("Redis Cluster slot \(slot) has no primary (cluster down or still forming)"))
                }
            }
            let answered = await withTaskGroup(of: [(Int, Result<RedisValue, RedisError>)].self) { group in
                for (node, indices) in groups {
                    let client = client(for: endpoint(for: node))
                    let asked = asking
                    group.addTask {
                        // ASKING applies to the command right behind it on the same connection.
                        let sent = indices.flatMap { asked[$0] == nil ? [commands[$0].args] : [[Array("ASKING".utf8)], commands[$0].args] }
                        var replies = await client.pipeline(bytes: sent)[...]
                        return indices.map { index in
                            if asked[index] != nil { replies = replies.dropFirst() }
                            defer { replies = replies.dropFirst() }
                            return (index, replies.first!)
                        }
                    }
                }
                return await group.reduce(into: []) { $0 += $1 }
            }
            pending = []
            asking = [:]
            var moved = false, lostNode = false
            for (index, result) in answered {
                if case .failure(let error) = result, let redirect = RedisRedirect(errorMessage: error.message),
                   attempt < Self.maxRedirects {
                    pending.append(index)
                    if redirect.kind == .ask { asking[index] = redirect.node } else { moved = true }
                    results[index] = result
                    continue
                }
                if case .failure(let error) = result, error.isConnectionError { lostNode = true }
                results[index] = result
            }
            if moved || lostNode { _ = try? await refreshSlotMap() }
            if pending.isEmpty { break }
            pending.sort()
        }
        return results.map { $0! }
    }

    /// Waits until `replicas` replicas of each primary holding one of `keys` have every write sent to it so far
    /// (`WAIT` on the connection the writes went through, on all those primaries side by side).
    /// - Throws: ``RedisError`` naming the first primary whose replicas fell short within `timeout`, or its error;
    ///   then the writes may not survive that primary's loss, and the caller must not report them done.
    public func awaitReplication(of keys: [[UInt8]], replicas: Int, timeout: Duration) async throws {
        guard replicas > 0, !keys.isEmpty else { return }
        let map = try await currentMap()
        let primaries = Set(try keys.map { key in
            let slot = RedisKeySlot.slot(of: key)
            guard let node = map.primary(forSlot: slot) else {
                throw RedisError.connection("Redis Cluster slot \(slot) has no primary (cluster down or still forming)")
            }
            return node
        })
        let ms = String(timeout.redisMilliseconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in primaries {
                let client = client(for: endpoint(for: node))
                group.addTask {
                    let acked = try await client.send(["WAIT", String(replicas), ms]).int ?? 0
                    guard acked >= Int64(replicas) else {
                        throw RedisError.connection("only \(acked) of \(replicas) replicas of \(node) acknowledged its writes within \(timeout)")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private func currentMap() async throws -> RedisSlotMap {
        if let map = state.withLock({ $0.map }) { return map }
        return try await refreshSlotMap()
    }

    /// Closes every node's connection.
    public func close() {
        let clients = state.withLock { state -> [RedisClient] in defer { state.clients = [:] }; return Array(state.clients.values) }
        clients.forEach { $0.close() }
    }

    private func endpoint(for node: RedisSlotMap.Node) -> RedisEndpoint {
        var endpoint = template
        endpoint.host = node.host.isEmpty ? template.host : node.host
        endpoint.port = node.port
        return endpoint
    }

    /// The one client per node, made on first use.
    private func client(for endpoint: RedisEndpoint) -> RedisClient {
        let node = RedisSlotMap.Node(host: endpoint.host, port: endpoint.port)
        return state.withLock { state in
            if let client = state.clients[node] { return client }
            let client = RedisClient(endpoint: endpoint, logger: logger)
            state.clients[node] = client
            return client
        }
    }
}
