/// Why a Redis request failed.
///
/// `isConnectionError` is true when the failure says nothing about the command itself: Redis could not be
/// reached, the connection broke (the command may or may not have run), the client is reconnecting or closed,
/// or no reply came within the caller's timeout. It is false for error replies from Redis (wrong type,
/// NOSCRIPT, a Lua error…) and for a full request queue.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var isConnectionError: Bool

    public init(message: String, isConnectionError: Bool) {
        self.message = message
        self.isConnectionError = isConnectionError
    }

    public var description: String {
        isConnectionError ? "Redis connection error: \(message)" : "Redis error: \(message)"
    }

    /// An error reply from Redis (`-ERR …`, `-NOSCRIPT …`), or a reply of an unexpected shape.
    public static func reply(_ message: String) -> RedisError { RedisError(message: message, isConnectionError: false) }

    /// Redis could not be reached, or the connection broke (the command may or may not have run).
    public static func connection(_ message: String) -> RedisError { RedisError(message: message, isConnectionError: true) }
}
