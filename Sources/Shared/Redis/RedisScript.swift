/// A Lua script run by EVALSHA, falling back to EVAL on NOSCRIPT (e.g. after a Redis restart or SCRIPT FLUSH).
///
/// The SHA-1 is computed locally, so no SCRIPT LOAD round trip is needed; the first EVAL caches the script
/// on the server again. After a NOSCRIPT the EVAL retry goes out in a later pipeline, so in that rare case
/// the script runs after commands the same caller sent meanwhile.
public struct RedisScript: Sendable {
    public let source: String
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        sha1 = RedisSHA1.hex(Array(source.utf8))
    }

    /// One call of the script: its keys and arguments.
    public struct Invocation: Sendable {
        public var keys: [String]
        public var args: [String]
        public init(keys: [String], args: [String]) {
            self.keys = keys
            self.args = args
        }
    }

    func evalsha(_ call: Invocation) -> [[UInt8]] { command("EVALSHA", sha1, call) }
    func eval(_ call: Invocation) -> [[UInt8]] { command("EVAL", source, call) }

    private func command(_ verb: String, _ script: String, _ call: Invocation) -> [[UInt8]] {
        ([verb, script, String(call.keys.count)] + call.keys + call.args).map { Array($0.utf8) }
    }

    static func isNoScript(_ result: Result<RedisValue, RedisError>) -> Bool {
        if case .failure(let error) = result, !error.isConnectionError, error.message.hasPrefix("NOSCRIPT") { return true }
        return false
    }
}

extension RedisClient {
    /// Runs `script` once; an error reply (e.g. a Lua error) is thrown.
    public func run(_ script: RedisScript, keys: [String], args: [String]) async throws -> RedisValue {
        try await run(script, invocations: [.init(keys: keys, args: args)])[0].get()
    }

    /// Runs `script` once per invocation in one pipeline; results in invocation order.
    public func run(_ script: RedisScript, invocations: [RedisScript.Invocation]) async -> [Result<RedisValue, RedisError>] {
        await withCheckedContinuation { continuation in
            run(script, invocations: invocations) { continuation.resume(returning: $0) }
        }
    }

    /// Blocking form of `run(_:keys:args:)`, for dedicated threads only.
    public func runBlocking(_ script: RedisScript, keys: [String], args: [String], timeout: Duration = .seconds(5)) throws -> RedisValue {
        try runBlocking(script, invocations: [.init(keys: keys, args: args)], timeout: timeout)[0].get()
    }

    /// Blocking, pipelined form for many invocations, for dedicated threads only. Throws only if the results
    /// do not all arrive within `timeout` (which covers the EVAL retry after NOSCRIPT).
    public func runBlocking(_ script: RedisScript, invocations: [RedisScript.Invocation],
                            timeout: Duration = .seconds(5)) throws -> [Result<RedisValue, RedisError>] {
        if worker.isWorkerThread {
            throw RedisError(message: "blocking Redis call from a Redis completion would deadlock", isConnectionError: false)
        }
        let waiter = RedisWaiter<[Result<RedisValue, RedisError>]>()
        run(script, invocations: invocations, completion: waiter.put)
        guard let results = waiter.wait(timeout: timeout) else {
            throw RedisError.connection("no reply from Redis at \(endpoint) within \(timeout)")
        }
        return results
    }

    /// EVALSHA for all, then EVAL (one pipeline) for those that got NOSCRIPT.
    func run(_ script: RedisScript, invocations: [RedisScript.Invocation],
             completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void) {
        pipeline(invocations.map(script.evalsha)) { [self] first in
            let missing = first.indices.filter { RedisScript.isNoScript(first[$0]) }
            guard !missing.isEmpty else { return completion(first) }
            pipeline(missing.map { script.eval(invocations[$0]) }) { retried in
                var results = first
                for (index, result) in zip(missing, retried) { results[index] = result }
                completion(results)
            }
        }
    }
}
