import Crypto
import NIOCore

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
        sha1 = Self.sha1Hex(Array(source.utf8))
    }

    /// The lowercase hex SHA-1 digest of `bytes`, as SCRIPT LOAD returns it (a name for the script, not security).
    static func sha1Hex(_ bytes: [UInt8]) -> String {
        Insecure.SHA1.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// One call of the script: its keys and arguments.
    public struct Invocation: Sendable {
        public var keys: [String]
        public var args: [String]
        public init(keys: [String], args: [String]) {
            self.keys = keys
            self.args = args
        }

        /// The same call with its keys and arguments as UTF-8 bytes.
        var bytes: ByteInvocation { ByteInvocation(keys: keys.map { Array($0.utf8) }, args: args.map { Array($0.utf8) }) }
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

    /// Runs `script` once; the future, on `eventLoop`, is completed straight from the Redis thread with the reply, or
    /// fails with the error reply or connection error.
    public func run(_ script: RedisScript, keys: [String], args: [String], on eventLoop: any EventLoop) -> EventLoopFuture<RedisValue> {
        let promise = eventLoop.makePromise(of: RedisValue.self)
        run(script, invocations: [.init(keys: keys, args: args)]) { promise.completeWith($0[0].mapError { $0 }) }
        return promise.futureResult
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
        try runBlocking(script, byteInvocations: invocations.map(\.bytes), timeout: timeout)
    }

    func run(_ script: RedisScript, invocations: [RedisScript.Invocation],
             completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void) {
        run(script, byteInvocations: invocations.map(\.bytes), completion: completion)
    }
}
