/// A RESP2 reply from Redis, kept binary-safe: bulk strings are raw bytes, never decoded implicitly.
///
/// A top-level error reply never reaches callers as `.error`: every `RedisClient` API reports it as a failure
/// (a thrown or `.failure` ``RedisError``). `.error` only appears nested inside an `.array`, e.g. in a Lua
/// table returned by a script.
public enum RedisValue: Sendable, Equatable {
    /// A nil bulk string or nil array (RESP2 does not tell them apart through hiredis).
    case null
    case integer(Int64)
    case bulk([UInt8])
    case status(String)
    case error(String)
    case array([RedisValue])

    /// The bulk or status value as UTF-8 (invalid sequences repaired); nil for other cases.
    public var string: String? {
        switch self {
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    /// The integer value, or a bulk string holding a decimal integer (Redis returns numbers as bulk strings
    /// from GET, HGET and the like); nil otherwise.
    public var int: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulk(let bytes): return Int64(String(decoding: bytes, as: UTF8.self))
        default: return nil
        }
    }

    /// The raw bytes of a bulk string; nil for other cases.
    public var bytes: [UInt8]? {
        if case .bulk(let bytes) = self { return bytes }
        return nil
    }

    /// The elements of an array; nil for other cases.
    public var array: [RedisValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    public var isNull: Bool { self == .null }
}
