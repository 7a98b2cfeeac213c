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
/// - Commands of one call to ``pipeline(_:)`` (or script calls of one ``run(_:byteInvocations:)``) are grouped per
///   primary, each group one pipeline, results in the order given; each is redirected on its own.
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
        await route(keys: commands.map(\.key)) { client, indices, asked in
            // ASKING applies to the command right behind it on the same connection.
            let sent = indices.flatMap { asked.contains($0) ? [[Array("ASKING".utf8)], commands[$0].args] : [commands[$0].args] }
            return Self.dropAsking(await client.pipeline(bytes: sent), indices: indices, asked: asked)
        }
    }

    /// Runs `script` once per invocation, each on the primary of its first key's slot (a script's keys must share a
    /// slot: give them one hash tag), grouped per primary; EVALSHA with the EVAL fallback on each node. Results in
    /// invocation order.
    public func run(_ script: RedisScript, byteInvocations invocations: [RedisScript.ByteInvocation]) async -> [Result<RedisValue, RedisError>] {
        await route(keys: invocations.map { $0.keys.first ?? [] }) { client, indices, asked in
            let normal = indices.filter { !asked.contains($0) }
            async let ran = client.run(script, byteInvocations: normal.map { invocations[$0] }, alongside: [])
            // Behind ASKING the script goes in full (EVAL): the importing node may not have it cached.
            let askedOnes = indices.filter { asked.contains($0) }
            let evals = await client.pipeline(bytes: askedOnes.flatMap { [[Array("ASKING".utf8)], script.eval(invocations[$0])] })
            var byIndex: [Int: Result<RedisValue, RedisError>] = [:]
            for (index, reply) in zip(normal, await ran) { byIndex[index] = reply.script }
            for (position, index) in askedOnes.enumerated() { byIndex[index] = evals[2 * position + 1] }
            return indices.map { byIndex[$0]! }
        }
    }

    /// The replies of `indices` from a pipeline in which each asked index's command came behind an ASKING.
    private static func dropAsking(_ replies: [Result<RedisValue, RedisError>], indices: [Int], asked: Set<Int>) -> [Result<RedisValue, RedisError>] {
        var position = 0
        return indices.map { index in
            if asked.contains(index) { position += 1 }
            defer { position += 1 }
            return replies[position]
        }
    }

    /// Sends item `i` (whose slot `keys[i]` decides) to its node with `send`, grouped per node, side by side, and
    /// follows redirects item by item; results in the order of `keys`.
    private func route(
        keys: [[UInt8]],
        send: @escaping @Sendable (RedisClient, [Int], Set<Int>) async -> [Result<RedisValue, RedisError>]
    ) async -> [Result<RedisValue, RedisError>] {
        var results = [Result<RedisValue, RedisError>?](repeating: nil, count: keys.count)
        var pending = Array(keys.indices)
        var asking: [Int: RedisSlotMap.Node] = [:]
        for attempt in 0...Self.maxRedirects {
            var map = state.withLock { $0.map }
            if map == nil { map = try? await refreshSlotMap() }
            var groups: [RedisSlotMap.Node: [Int]] = [:]
            for index in pending {
                let slot = RedisKeySlot.slot(of: keys[index])
                if let node = asking[index] ?? map?.primary(forSlot: slot) {
                    groups[RedisSlotMap.Node(host: node.host, port: node.port), default: []].append(index)
                } else {
                    results[index] = .failure(.connection("Redis Cluster slot \(slot) has no primary (cluster down or still forming)"))
                }
            }
            let asked = Set(asking.keys)
            let answered = await withTaskGroup(of: [(Int, Result<RedisValue, RedisError>)].self) { group in
                for (node, indices) in groups {
                    let client = client(for: endpoint(for: node))
                    group.addTask { Array(zip(indices, await send(client, indices, asked.intersection(indices)))) }
                }
                return await group.reduce(into: []) { $0 += $1 }
            }
            pending = []
            asking = [:]
            var moved = false, lostNode = false
            for (index, result) in answered {
                results[index] = result
                guard case .failure(let error) = result else { continue }
                if let redirect = RedisRedirect(errorMessage: error.message), attempt < Self.maxRedirects {
                    pending.append(index)
                    if redirect.kind == .ask { asking[index] = redirect.node } else { moved = true }
                } else if error.isConnectionError {
                    lostNode = true
                }
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
