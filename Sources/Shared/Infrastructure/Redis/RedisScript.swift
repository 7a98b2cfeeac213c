import Crypto

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
        HexText.of(Insecure.SHA1.hash(data: bytes))
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
