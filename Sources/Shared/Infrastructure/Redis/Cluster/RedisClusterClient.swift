import Lifecycle
import Logging
import ServiceLifecycle

/// A Redis Cluster client built on one ``RedisClient`` (one pipelined hiredis connection and its thread) per node.
///
/// Each command names the key that decides its slot; it goes to the primary the slot map names. Guarantees:
/// - `MOVED`: the map is read again (`CLUSTER SLOTS`, from any node that answers) and the command is sent where the new
///   map says; `ASK`: the command alone goes to the node the redirect names, behind `ASKING`, and the map is kept. At
///   most ``maxRedirects`` redirects per command, then the last error is the result. `TRYAGAIN` (a script whose keys a
///   migration has split between two nodes) is sent again after 20 ms, doubling, within the same limit.
/// - A slot without a primary fails at once with a clear error naming the slot, rather than guessing a node.
/// - A connection error (a primary that died) reads the map again before the error is reported, so that the caller's
///   retry reaches the replica promoted in its place. Concurrent map reads are joined into one.
/// - Commands of one call (or script calls of one run) are grouped per primary, each group one pipeline, results in the
///   order given; each is redirected on its own.
public final class RedisClusterClient: RedisKeyspace, Service {
    public static let maxRedirects = 5

    private let seeds: [RedisEndpoint]
    private let template: RedisEndpoint
    private let logger: Logger
    public let durability: RedisDurability
    private let state = Locked(State())

    private struct State {
        var map: RedisSlotMap?
        var clients: [RedisSlotMap.Node: RedisClient] = [:]
        /// Who waits for the map read under way, if one is.
        var mapWaiters: [@Sendable (Result<RedisSlotMap, RedisError>) -> Void]?
    }

    /// - Parameters:
    ///   - seeds: nodes to read the slot map from (any of them will do); their password and timeouts apply to every
    ///     node.
    ///   - durability: the replicas a write must reach before the domain types report it done (`WAIT`).
    public init(seeds: [RedisEndpoint], logger: Logger, durability: RedisDurability = RedisDurability()) {
        precondition(!seeds.isEmpty, "a Redis Cluster client needs at least one seed node")
        self.seeds = seeds
        template = seeds[0]
        self.logger = logger
        self.durability = durability
    }

    deinit { close() }

    public var description: String { "Redis Cluster " + seeds.map(\.description).joined(separator: ",") }

    /// The slot map last read, if any.
    public var slotMap: RedisSlotMap? { state.withLock { $0.map } }

    public var isRedisThread: Bool { state.withLock { Array($0.clients.values) }.contains { $0.isRedisThread } }

    // MARK: the slot map

    /// Reads the slot map from the first known primary or seed that answers; joins a read already under way.
    /// `completion` gets the last node's error when none answers, or a ``RedisError`` for a malformed reply.
    public func refreshSlotMap(completion: @escaping @Sendable (Result<RedisSlotMap, RedisError>) -> Void) {
        let first = state.withLock { state -> Bool in
            if state.mapWaiters != nil {
                state.mapWaiters!.append(completion)
                return false
            }
            state.mapWaiters = [completion]
            return true
        }
        guard first else { return }
        let known = state.withLock { $0.map?.primaries ?? [] }.map { endpoint(for: $0) }
        readSlotMap(from: (known + seeds)[...], lastError: .connection("no Redis Cluster node to ask for the slot map")) { [self] result in
            let waiters = state.withLock { state in
                if case .success(let map) = result { state.map = map }
                defer { state.mapWaiters = nil }
                return state.mapWaiters ?? []
            }
            waiters.forEach { $0(result) }
        }
    }

    /// Async form of ``refreshSlotMap(completion:)``.
    @discardableResult
    public func refreshSlotMap() async throws -> RedisSlotMap {
        try await withCheckedThrowingContinuation { continuation in
            refreshSlotMap { continuation.resume(with: $0.mapError { $0 }) }
        }
    }

    private func readSlotMap(from candidates: ArraySlice<RedisEndpoint>, lastError: RedisError,
                             completion: @escaping @Sendable (Result<RedisSlotMap, RedisError>) -> Void) {
        guard let candidate = candidates.first else { return completion(.failure(lastError)) }
        client(for: candidate).send(["CLUSTER", "SLOTS"].map { Array($0.utf8) }) { [self] reply in
            do {
                completion(.success(try RedisSlotMap(clusterSlots: reply.get())))
            } catch {
                let failure = error as? RedisError ?? .reply("\(error)")
                readSlotMap(from: candidates.dropFirst(), lastError: failure, completion: completion)
            }
        }
    }

    /// The map last read, or a fresh read if there is none yet.
    func withMap(_ body: @escaping @Sendable (Result<RedisSlotMap, RedisError>) -> Void) {
        if let map = state.withLock({ $0.map }) { return body(.success(map)) }
        refreshSlotMap(completion: body)
    }

    static func noPrimary(_ slot: Int) -> RedisError {
        .connection("Redis Cluster slot \(slot) has no primary (cluster down or still forming)")
    }

    // MARK: RedisKeyspace

    public func send(_ commands: [RedisCommand], completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void) {
        route(keys: commands.map(\.key), send: { client, indices, asked, done in
            // ASKING applies to the command right behind it on the same connection.
            let sent = indices.flatMap { asked.contains($0) ? [[Array("ASKING".utf8)], commands[$0].args] : [commands[$0].args] }
            client.pipeline(sent) { done(Self.dropAsking($0, indices: indices, asked: asked)) }
        }, completion: completion)
    }

    /// Each call runs on the primary of its first key's slot (a script's keys must share a slot: give them one hash
    /// tag); EVALSHA with the EVAL fallback on each node, and EVAL behind `ASKING` (the importing node may not have the
    /// script cached).
    public func run(_ script: RedisScript, byteInvocations calls: [RedisScript.ByteInvocation],
                    completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void) {
        route(keys: calls.map { $0.keys.first ?? [] }, send: { client, indices, asked, done in
            let normal = indices.filter { !asked.contains($0) }
            let askedOnes = indices.filter { asked.contains($0) }
            let parts = Gathering<[Result<RedisValue, RedisError>]>(count: 2) { parts in
                var byIndex: [Int: Result<RedisValue, RedisError>] = [:]
                for (index, reply) in zip(normal, parts[0]) { byIndex[index] = reply }
                for (position, index) in askedOnes.enumerated() { byIndex[index] = parts[1][2 * position + 1] }
                done(indices.map { byIndex[$0]! })
            }
            client.run(script, byteInvocations: normal.map { calls[$0] }) { parts.put($0, at: 0) }
            client.pipeline(askedOnes.flatMap { [[Array("ASKING".utf8)], script.eval(calls[$0])] }) { parts.put($0, at: 1) }
        }, completion: completion)
    }

    /// `WAIT` on each primary holding one of `keys`, side by side, on the connection the writes went through.
    public func awaitReplication(of keys: [[UInt8]], replicas: Int, timeout: Duration,
                                 completion: @escaping @Sendable (Result<Void, RedisError>) -> Void) {
        guard replicas > 0, !keys.isEmpty else { return completion(.success(())) }
        withMap { [self] result in
            let map: RedisSlotMap
            switch result {
            case .failure(let error): return completion(.failure(error))
            case .success(let current): map = current
            }
            var primaries = Set<RedisSlotMap.Node>()
            for key in keys {
                let slot = RedisKeySlot.slot(of: key)
                guard let node = map.primary(forSlot: slot) else { return completion(.failure(Self.noPrimary(slot))) }
                primaries.insert(RedisSlotMap.Node(host: node.host, port: node.port))
            }
            let waits = Gathering<Result<Void, RedisError>>(count: primaries.count) { results in
                completion(results.first { if case .failure = $0 { true } else { false } } ?? .success(()))
            }
            for (position, node) in primaries.enumerated() {
                client(for: endpoint(for: node)).awaitReplication(of: [], replicas: replicas, timeout: timeout) {
                    waits.put($0, at: position)
                }
            }
        }
    }

    /// Reads the slot map and PINGs every primary; throws naming what is missing. Blocks: call once at start-up.
    public func checkReachable(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        let map = try checkServing(until: deadline, timeout: timeout)
        for node in map.primaries {
            try client(for: endpoint(for: node)).checkReachable(timeout: max(.milliseconds(100), ContinuousClock.now.duration(to: deadline)))
        }
    }

    /// Reads the slot map from any node; throws unless it answers in time and covers every slot. Blocks.
    public func checkServing(timeout: Duration) throws {
        _ = try checkServing(until: ContinuousClock.now + timeout, timeout: timeout)
    }

    private func checkServing(until deadline: ContinuousClock.Instant, timeout: Duration) throws -> RedisSlotMap {
        let reply = Gathering<Result<RedisSlotMap, RedisError>>(count: 1)
        refreshSlotMap { reply.put($0, at: 0) }
        guard let result = reply.wait(until: deadline)[0] else {
            throw RedisError.connection("cannot reach \(self): no slot map within \(timeout)")
        }
        let map: RedisSlotMap
        do { map = try result.get() } catch {
            throw RedisError.connection("cannot reach \(self): \(error.message)")
        }
        guard map.coveredSlots == RedisKeySlot.count else {
            throw RedisError.connection("\(self) serves only \(map.coveredSlots) of \(RedisKeySlot.count) slots (cluster down or still forming)")
        }
        return map
    }

    /// Closes every node's connection.
    public func close() { takeClients().forEach { $0.close() } }

    /// As a `Service`: waits for the group's graceful shutdown, then closes every node's connection after what was
    /// queued (at most 5 s each).
    public func run() async throws {
        try? await gracefulShutdown()
        let clients = takeClients()
        clients.forEach { $0.close() }
        for client in clients { _ = await client.worker.finished(within: .seconds(5)) }
    }

    /// Every node's client, forgotten here (a later request makes a new one).
    private func takeClients() -> [RedisClient] {
        state.withLock { state in defer { state.clients = [:] }; return Array(state.clients.values) }
    }

    // MARK: nodes

    func endpoint(for node: RedisSlotMap.Node) -> RedisEndpoint {
        var endpoint = template
        endpoint.host = node.host.isEmpty ? template.host : node.host
        endpoint.port = node.port
        return endpoint
    }

    /// The one client per node, made on first use.
    func client(for endpoint: RedisEndpoint) -> RedisClient {
        let node = RedisSlotMap.Node(host: endpoint.host, port: endpoint.port)
        return state.withLock { state in
            if let client = state.clients[node] { return client }
            let client = RedisClient(endpoint: endpoint, logger: logger)
            state.clients[node] = client
            return client
        }
    }
}
