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
    /// EVALSHA for all in one pipeline, then EVAL (a second pipeline) for those that got NOSCRIPT. Results in
    /// invocation order.
    public func run(_ script: RedisScript, byteInvocations invocations: [RedisScript.ByteInvocation],
                    completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void) {
        pipeline(invocations.map(script.evalsha)) { [self] replies in
            let missing = replies.indices.filter { RedisScript.isNoScript(replies[$0]) }
            guard !missing.isEmpty else { return completion(replies) }
            pipeline(missing.map { script.eval(invocations[$0]) }) { retried in
                var all = replies
                for (index, result) in zip(missing, retried) { all[index] = result }
                completion(all)
            }
        }
    }
}
