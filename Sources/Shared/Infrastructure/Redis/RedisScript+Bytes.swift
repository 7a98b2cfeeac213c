import Lifecycle

/// Script calls with keys and arguments as raw bytes (a mailbox payload may hold any bytes), and the one place that
/// runs them: EVALSHA first, EVAL for those that got NOSCRIPT. `String` invocations are converted to these.
extension RedisScript {
    /// One call of a script, with its keys and arguments as raw bytes.
    public struct ByteInvocation: Sendable {
        public var keys: [[UInt8]]
        public var args: [[UInt8]]

        public init(keys: [[UInt8]], args: [[UInt8]]) {
            self.keys = keys
            self.args = args
        }
    }

    func evalsha(_ call: ByteInvocation) -> [[UInt8]] { command("EVALSHA", sha1, call) }
    func eval(_ call: ByteInvocation) -> [[UInt8]] { command("EVAL", source, call) }

    private func command(_ verb: String, _ script: String, _ call: ByteInvocation) -> [[UInt8]] {
        [Array(verb.utf8), Array(script.utf8), Array(String(call.keys.count).utf8)] + call.keys + call.args
    }
}

extension RedisClient {
    /// What one script call answered, and the commands sent right behind it.
    public typealias ScriptReply = (script: Result<RedisValue, RedisError>, alongside: [Result<RedisValue, RedisError>])

    /// Blocking, pipelined runs of `script` with binary arguments, for dedicated threads only; results in
    /// invocation order. Throws only if the results do not all arrive within `timeout`.
    func runBlocking(_ script: RedisScript, byteInvocations invocations: [RedisScript.ByteInvocation],
                     timeout: Duration = .seconds(5)) throws -> [Result<RedisValue, RedisError>] {
        try runBlocking(script, byteInvocations: invocations, alongside: [], timeout: timeout).map(\.script)
    }

    /// Blocking form of `run(_:byteInvocations:alongside:completion:)`, for dedicated threads only. Throws only if
    /// the results do not all arrive within `timeout`.
    public func runBlocking(_ script: RedisScript, byteInvocations invocations: [RedisScript.ByteInvocation],
                            alongside: [[[[UInt8]]]], timeout: Duration = .seconds(5)) throws -> [ScriptReply] {
        if worker.isWorkerThread {
            throw RedisError(message: "blocking Redis call from a Redis completion would deadlock", isConnectionError: false)
        }
        let replies = Gathering<[ScriptReply]>(count: 1)
        run(script, byteInvocations: invocations, alongside: alongside) { replies.put($0, at: 0) }
        guard let results = replies.wait(until: .now + timeout)[0] else {
            throw RedisError.connection("no reply from Redis at \(endpoint) within \(timeout)")
        }
        return results
    }

    /// Async form of `run(_:byteInvocations:alongside:completion:)`. Never throws: each reply says how its call went.
    public func run(_ script: RedisScript, byteInvocations invocations: [RedisScript.ByteInvocation],
                    alongside: [[[[UInt8]]]]) async -> [ScriptReply] {
        await withCheckedContinuation { continuation in
            run(script, byteInvocations: invocations, alongside: alongside) { continuation.resume(returning: $0) }
        }
    }

    /// EVALSHA for all, then EVAL (one pipeline) for those that got NOSCRIPT.
    func run(_ script: RedisScript, byteInvocations invocations: [RedisScript.ByteInvocation],
             completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void) {
        run(script, byteInvocations: invocations, alongside: []) { completion($0.map(\.script)) }
    }

    /// Runs `script` once per invocation, each call followed in the same pipeline by its plain commands in
    /// `alongside` (none when `alongside` is shorter), for keys the script may not touch (another cluster slot). The
    /// calls that got NOSCRIPT run again with EVAL in a second pipeline, after their commands. Results in invocation
    /// order.
    func run(_ script: RedisScript, byteInvocations invocations: [RedisScript.ByteInvocation], alongside: [[[[UInt8]]]],
             completion: @escaping @Sendable ([ScriptReply]) -> Void) {
        var commands: [[[UInt8]]] = []
        var scriptAt: [Int] = []
        commands.reserveCapacity(invocations.count + alongside.reduce(0) { $0 + $1.count })
        for (i, call) in invocations.enumerated() {
            scriptAt.append(commands.count)
            commands.append(script.evalsha(call))
            if i < alongside.count { commands += alongside[i] }
        }
        let ends = Array(scriptAt.dropFirst()) + [commands.count]
        pipeline(commands) { [self, scriptAt] replies in
            let results: [ScriptReply] = zip(scriptAt, ends).map { at, end in (replies[at], Array(replies[(at + 1)..<end])) }
            let missing = results.indices.filter { RedisScript.isNoScript(results[$0].script) }
            guard !missing.isEmpty else { return completion(results) }
            pipeline(missing.map { script.eval(invocations[$0]) }) { retried in
                var all = results
                for (index, result) in zip(missing, retried) { all[index].script = result }
                completion(all)
            }
        }
    }
}
