import Lifecycle
import Logging
import ServiceLifecycle

/// A Redis client: one connection served by one dedicated thread.
///
/// Two API families, each for its own kind of caller:
/// - **async** (`send`, `pipeline`, `run` of scripts, and the domain types built on them): `async` functions for
///   tasks, and `run(_:keys:args:on:)`, whose future an event loop chains on with no task in between. Both are
///   completed from the Redis thread and never block.
/// - **blocking** (`checkReachable`, `sendBlocking`, `pipelineBlocking`, `runBlocking`): for dedicated threads only
///   (consumer loops, sweeps, start-up checks run through `offload`), never the cooperative pool or an event loop.
///   Each takes a timeout; past it, the reply counts as a connection error (the command may still run).
///
/// Guarantees:
/// - Requests from any thread are queued; the thread takes everything queued, writes it all and reads the
///   replies in order, so concurrent callers are pipelined automatically and each caller's commands run in the
///   order it sent them.
/// - On a broken connection the in-flight requests fail with `isConnectionError` (they may or may not have
///   run) and the thread reconnects with backoff (50 ms doubling to 2 s); while disconnected, requests fail at
///   once instead of waiting. The queue is bounded; a full queue fails the request at once.
/// - A top-level error reply is always reported as a failure, never as a `.error` value.
/// - As a `Service`, it closes on the group's graceful shutdown after running what was queued.
public final class RedisClient: Service, RedisKeyspace {
    public let endpoint: RedisEndpoint
    public let durability: RedisDurability
    let worker: RedisWorker

    /// - Parameters:
    ///   - durability: the replicas a write must reach before the domain types report it done (`WAIT`).
    ///   - maxQueued: how many requests may wait for the thread; beyond that they fail at once.
    public init(endpoint: RedisEndpoint, logger: Logger, durability: RedisDurability = RedisDurability(),
                maxQueued: Int = 100_000) {
        self.endpoint = endpoint
        self.durability = durability
        worker = RedisWorker(endpoint: endpoint, logger: logger, maxQueued: maxQueued)
    }

    public var description: String { endpoint.description }

    public var isRedisThread: Bool { worker.isWorkerThread }

    /// One server: every command goes to it, in one pipeline; the keys only matter to a cluster.
    public func send(_ commands: [RedisCommand], completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void) {
        pipeline(commands.map(\.args), completion: completion)
    }

    /// `WAIT` on this client's one connection, which every write went through.
    public func awaitReplication(of keys: [[UInt8]], replicas: Int, timeout: Duration,
                                 completion: @escaping @Sendable (Result<Void, RedisError>) -> Void) {
        guard replicas > 0 else { return completion(.success(())) }
        send(["WAIT", String(replicas), String(timeout.redisMilliseconds)].map { Array($0.utf8) }) { [endpoint] reply in
            completion(reply.flatMap { value in
                let acked = value.int ?? 0
                return acked >= Int64(replicas) ? .success(())
                    : .failure(.connection("only \(acked) of \(replicas) replicas of \(endpoint) acknowledged its writes within \(timeout)"))
            })
        }
    }

    deinit { worker.close() }

    /// Connects (now, even if backing off) and PINGs. Throws a RedisError saying
    /// "cannot reach Redis at host:port: …" if no PONG comes within `timeout`. Blocks: call once at start-up.
    public func checkReachable(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        var result = probe(deadline: deadline)
        // An idle connection may have died unnoticed (server restarted): the probe then finds out, and the
        // worker reconnects at once for the second try.
        if case .failure(let error)? = result, error.message.hasPrefix("lost connection") {
            result = probe(deadline: deadline)
        }
        switch result {
        case nil:
            throw RedisError.connection("cannot reach Redis at \(endpoint): no answer within \(timeout)")
        case .failure(let error)? where error.isConnectionError:
            if error.message.hasPrefix("cannot reach") { throw error }
            throw RedisError.connection("cannot reach Redis at \(endpoint): \(error.message)")
        case .failure(let error)?:
            throw RedisError.connection("Redis at \(endpoint) refused PING: \(error.message)")
        case .success?:
            return
        }
    }

    /// One server: the same as ``checkReachable(timeout:)``.
    public func checkServing(timeout: Duration) throws { try checkReachable(timeout: timeout) }

    private func probe(deadline: ContinuousClock.Instant) -> Result<RedisValue, RedisError>? {
        let reply = Gathering<Result<RedisValue, RedisError>>(count: 1)
        worker.enqueue([RedisWorker.Request(args: [Array("PING".utf8)], completion: { reply.put($0, at: 0) }, probe: true)])
        return reply.wait(until: deadline)[0]
    }

    /// Sends one command. `completion` gets the reply, or a RedisError for an error reply or a connection problem, on
    /// the Redis thread: the plumbing under the async and blocking families.
    func send(_ args: [[UInt8]], completion: @escaping @Sendable (Result<RedisValue, RedisError>) -> Void) {
        worker.enqueue([RedisWorker.Request(args: args, completion: completion)])
    }

    // One server needs no key to route by: these forms take bare commands and are the keyspace's families
    // (RedisKeyspace+Families.swift) with an empty key.

    /// Sends one binary-safe command; an error reply is thrown as RedisError.
    public func send(_ args: [[UInt8]]) async throws -> RedisValue { try await send(args, key: []) }

    /// Sends one command; an error reply is thrown as RedisError.
    public func send(_ args: [String]) async throws -> RedisValue { try await send(args, key: "") }

    /// Sends commands back to back in one pipeline; the results are in command order. Not a transaction:
    /// other clients' commands may run in between. `completion` runs once, on the Redis thread: the plumbing under the
    /// async and blocking families.
    func pipeline(_ commands: [[[UInt8]]], completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void) {
        guard !commands.isEmpty else { return completion([]) }
        let replies = Gathering(count: commands.count, whenComplete: completion)
        worker.enqueue(commands.enumerated().map { index, args in
            RedisWorker.Request(args: args) { replies.put($0, at: index) }
        })
    }

    /// Sends commands back to back in one pipeline and resumes with their results, in command order. Never throws:
    /// each result says how its command went. Not a transaction: other clients' commands may run in between.
    public func pipeline(bytes commands: [[[UInt8]]]) async -> [Result<RedisValue, RedisError>] {
        await pipeline(commands.map { RedisCommand($0, key: []) })
    }

    /// ``pipeline(bytes:)`` for text commands.
    public func pipeline(_ commands: [[String]]) async -> [Result<RedisValue, RedisError>] {
        await pipeline(commands.map { RedisCommand($0, key: "") })
    }

    /// Sends one command and waits for the reply; an error reply is thrown. For dedicated threads only.
    /// Not waiting past `timeout` is reported as a connection error (the command may still run).
    public func sendBlocking(_ args: [String], timeout: Duration = .seconds(5)) throws -> RedisValue {
        try sendBlocking(args, key: "", timeout: timeout)
    }

    /// Sends commands in one pipeline and waits for all replies, in command order. For dedicated threads only.
    /// Throws only if the replies do not all arrive within `timeout`.
    public func pipelineBlocking(_ commands: [[String]], timeout: Duration = .seconds(5)) throws -> [Result<RedisValue, RedisError>] {
        try pipelineBlocking(commands.map { RedisCommand($0, key: "") }, timeout: timeout)
    }

    /// Runs what is already queued (if connected), then stops the thread and frees the connection.
    /// Later requests fail with a connection error. Does not wait.
    public func close() { worker.close() }

    /// As a `Service`: waits for the group's graceful shutdown, then ``close()``s and waits (at most 5 s) for what was
    /// queued to run.
    public func run() async throws {
        try? await gracefulShutdown()
        close()
        _ = await worker.finished(within: .seconds(5))
    }
}
