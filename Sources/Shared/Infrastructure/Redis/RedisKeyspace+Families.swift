import Lifecycle
import NIOCore

// The three ways to call a RedisKeyspace, each for its own kind of caller, all built on the protocol's primitives:
// - async, for tasks;
// - futures on an event loop, completed straight from the Redis thread with no task in between;
// - blocking, for dedicated threads only (consumer loops, sweeps, start-up checks), never the cooperative pool or an
//   event loop. Each takes a timeout; past it, the reply counts as a connection error (the command may still run).

extension RedisKeyspace {
    // MARK: async

    /// Sends one command to where `key` lives; an error reply is thrown.
    public func send(_ args: [[UInt8]], key: [UInt8]) async throws -> RedisValue {
        try await pipeline([RedisCommand(args, key: key)])[0].get()
    }

    /// Text form of ``send(_:key:)``.
    public func send(_ args: [String], key: String) async throws -> RedisValue {
        try await pipeline([RedisCommand(args, key: key)])[0].get()
    }

    /// Sends commands, each to where its key lives; never throws: each result says how its command went.
    public func pipeline(_ commands: [RedisCommand]) async -> [Result<RedisValue, RedisError>] {
        guard !commands.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            send(commands) { continuation.resume(returning: $0) }
        }
    }

    /// Runs `script` once; an error reply (e.g. a Lua error) is thrown.
    public func run(_ script: RedisScript, keys: [String], args: [String]) async throws -> RedisValue {
        try await run(script, invocations: [.init(keys: keys, args: args)])[0].get()
    }

    /// Runs `script` once per invocation; results in invocation order.
    public func run(_ script: RedisScript, invocations: [RedisScript.Invocation]) async -> [Result<RedisValue, RedisError>] {
        await run(script, byteInvocations: invocations.map(\.bytes))
    }

    /// Binary-safe form of ``run(_:invocations:)``.
    public func run(_ script: RedisScript, byteInvocations calls: [RedisScript.ByteInvocation]) async -> [Result<RedisValue, RedisError>] {
        guard !calls.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            run(script, byteInvocations: calls) { continuation.resume(returning: $0) }
        }
    }

    /// Runs `script` once per invocation and sends `commands` at the same time (each to where its key lives: they need
    /// not share the scripts' slots); nothing orders the two. Results in the order given.
    public func run(_ script: RedisScript, byteInvocations calls: [RedisScript.ByteInvocation],
                    alongside commands: [RedisCommand]) async -> (scripts: [Result<RedisValue, RedisError>], commands: [Result<RedisValue, RedisError>]) {
        await withCheckedContinuation { continuation in
            run(script, byteInvocations: calls, alongside: commands) { continuation.resume(returning: $0) }
        }
    }

    /// Async form of ``awaitReplication(of:replicas:timeout:completion:)``.
    public func awaitReplication(of keys: [[UInt8]], replicas: Int, timeout: Duration) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            awaitReplication(of: keys, replicas: replicas, timeout: timeout) { continuation.resume(with: $0.mapError { $0 }) }
        }
    }

    // MARK: futures

    /// Runs `script` once; the future, on `eventLoop`, is completed straight from the Redis thread with the reply, or
    /// fails with the error reply or connection error.
    public func run(_ script: RedisScript, keys: [String], args: [String], on eventLoop: any EventLoop) -> EventLoopFuture<RedisValue> {
        let promise = eventLoop.makePromise(of: RedisValue.self)
        run(script, byteInvocations: [RedisScript.Invocation(keys: keys, args: args).bytes]) {
            promise.completeWith($0[0].mapError { $0 })
        }
        return promise.futureResult
    }

    /// Sends commands; the future, on `eventLoop`, never fails: each result says how its command went.
    public func pipeline(_ commands: [RedisCommand], on eventLoop: any EventLoop) -> EventLoopFuture<[Result<RedisValue, RedisError>]> {
        guard !commands.isEmpty else { return eventLoop.makeSucceededFuture([]) }
        let promise = eventLoop.makePromise(of: [Result<RedisValue, RedisError>].self)
        send(commands) { promise.succeed($0) }
        return promise.futureResult
    }

    // MARK: blocking

    /// Sends one command and waits for the reply; an error reply is thrown. For dedicated threads only.
    public func sendBlocking(_ args: [String], key: String, timeout: Duration = .seconds(5)) throws -> RedisValue {
        try pipelineBlocking([RedisCommand(args, key: key)], timeout: timeout)[0].get()
    }

    /// Sends commands and waits for every result, in command order. For dedicated threads only. Throws only if the
    /// results do not all arrive within `timeout`.
    public func pipelineBlocking(_ commands: [RedisCommand], timeout: Duration = .seconds(5)) throws -> [Result<RedisValue, RedisError>] {
        guard !commands.isEmpty else { return [] }
        return try waitBlocking(timeout) { send(commands, completion: $0) }
    }

    /// Runs `script` once and waits for the reply; an error reply is thrown. For dedicated threads only.
    public func runBlocking(_ script: RedisScript, keys: [String], args: [String], timeout: Duration = .seconds(5)) throws -> RedisValue {
        try runBlocking(script, invocations: [.init(keys: keys, args: args)], timeout: timeout)[0].get()
    }

    /// Runs `script` once per invocation and waits for every result (the EVAL retry after NOSCRIPT included). For
    /// dedicated threads only. Throws only if the results do not all arrive within `timeout`.
    public func runBlocking(_ script: RedisScript, invocations: [RedisScript.Invocation],
                            timeout: Duration = .seconds(5)) throws -> [Result<RedisValue, RedisError>] {
        try runBlocking(script, byteInvocations: invocations.map(\.bytes), timeout: timeout)
    }

    /// Binary-safe form of ``runBlocking(_:invocations:timeout:)``.
    public func runBlocking(_ script: RedisScript, byteInvocations calls: [RedisScript.ByteInvocation],
                            timeout: Duration = .seconds(5)) throws -> [Result<RedisValue, RedisError>] {
        guard !calls.isEmpty else { return [] }
        return try waitBlocking(timeout) { run(script, byteInvocations: calls, completion: $0) }
    }

    /// Blocking form of ``run(_:byteInvocations:alongside:)``, for dedicated threads only. Throws only if the results
    /// do not all arrive within `timeout`.
    public func runBlocking(_ script: RedisScript, byteInvocations calls: [RedisScript.ByteInvocation], alongside commands: [RedisCommand],
                            timeout: Duration = .seconds(5)) throws -> (scripts: [Result<RedisValue, RedisError>], commands: [Result<RedisValue, RedisError>]) {
        try waitBlocking(timeout) { run(script, byteInvocations: calls, alongside: commands, completion: $0) }
    }

    /// Blocking form of ``confirmDurable(_:completion:)``: throws when the replicas fell short. The wait is bounded
    /// by ``durability``'s timeout (plus a second for the reply).
    public func confirmDurableBlocking(_ keys: [[UInt8]]) throws {
        try waitBlocking(durability.timeout + .seconds(1)) { confirmDurable(keys, completion: $0) }.get()
    }

    private func run(_ script: RedisScript, byteInvocations calls: [RedisScript.ByteInvocation], alongside commands: [RedisCommand],
                     completion: @escaping @Sendable ((scripts: [Result<RedisValue, RedisError>], commands: [Result<RedisValue, RedisError>])) -> Void) {
        let both = Gathering<[Result<RedisValue, RedisError>]>(count: 2) { completion(($0[0], $0[1])) }
        if calls.isEmpty { both.put([], at: 0) } else { run(script, byteInvocations: calls) { both.put($0, at: 0) } }
        if commands.isEmpty { both.put([], at: 1) } else { send(commands) { both.put($0, at: 1) } }
    }

    private func waitBlocking<T: Sendable>(_ timeout: Duration, _ start: (@escaping @Sendable (T) -> Void) -> Void) throws -> T {
        if isRedisThread {
            throw RedisError(message: "blocking Redis call from a Redis completion would deadlock", isConnectionError: false)
        }
        let reply = Gathering<T>(count: 1)
        start { reply.put($0, at: 0) }
        guard let value = reply.wait(until: .now + timeout)[0] else {
            throw RedisError.connection("no reply from Redis at \(self) within \(timeout)")
        }
        return value
    }
}
