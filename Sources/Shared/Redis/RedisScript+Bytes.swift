/// Script calls with keys and arguments as raw bytes (a mailbox payload may hold any bytes), and the one place that
/// runs them: EVALSHA first, EVAL for those that got NOSCRIPT. `String` invocations are converted to these.
extension RedisScript {
    struct ByteInvocation: Sendable {
        var keys: [[UInt8]]
        var args: [[UInt8]]
    }

    func evalsha(_ call: ByteInvocation) -> [[UInt8]] { command("EVALSHA", sha1, call) }
    func eval(_ call: ByteInvocation) -> [[UInt8]] { command("EVAL", source, call) }

    private func command(_ verb: String, _ script: String, _ call: ByteInvocation) -> [[UInt8]] {
        [Array(verb.utf8), Array(script.utf8), Array(String(call.keys.count).utf8)] + call.keys + call.args
    }
}

extension RedisClient {
    /// Blocking, pipelined runs of `script` with binary arguments, for dedicated threads only; results in
    /// invocation order. Throws only if the results do not all arrive within `timeout`.
    func runBlocking(_ script: RedisScript, byteInvocations invocations: [RedisScript.ByteInvocation],
                     timeout: Duration = .seconds(5)) throws -> [Result<RedisValue, RedisError>] {
        if worker.isWorkerThread {
            throw RedisError(message: "blocking Redis call from a Redis completion would deadlock", isConnectionError: false)
        }
        let waiter = RedisWaiter<[Result<RedisValue, RedisError>]>()
        run(script, byteInvocations: invocations, completion: waiter.put)
        guard let results = waiter.wait(timeout: timeout) else {
            throw RedisError.connection("no reply from Redis at \(endpoint) within \(timeout)")
        }
        return results
    }

    /// EVALSHA for all, then EVAL (one pipeline) for those that got NOSCRIPT.
    func run(_ script: RedisScript, byteInvocations invocations: [RedisScript.ByteInvocation],
             completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void) {
        pipeline(invocations.map { script.evalsha($0) }) { [self] first in
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
