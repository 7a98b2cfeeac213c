/// An `error` frame: what was refused, why, and whether sending it again later can succeed.
public struct ProtocolError: Sendable, Equatable, Error {
    public var code: ErrorCode
    public var message: String
    /// The id of the message the error is about, or the topic of the `sub` or `unsub` it answers, if any.
    public var ref: String?

    public init(_ code: ErrorCode, _ message: String, ref: String? = nil) {
        self.code = code
        self.message = message
        self.ref = ref
    }

    /// The `ref` of the `auth_failed` that answers a refused `refresh` (which has no id of its own).
    public static let refreshRef = "refresh"

    /// Whether the same frame may succeed if sent again later.
    public var retryable: Bool { code.retryable }
}

/// The codes of `error` frames. Their string values are part of the protocol (docs/protocol.md).
public enum ErrorCode: String, Sendable, Equatable, CaseIterable {
    /// The frame is not valid in the connection's encoding (malformed JSON, missing or mistyped field).
    case badFrame = "bad_frame"
    /// The frame's `type` is not one this protocol version knows.
    case unknownType = "unknown_type"
    /// A frame other than `hello` came before the hello was accepted. The connection is closed (4002).
    case helloRequired = "hello_required"
    /// A second `hello` on a connection that already has one.
    case alreadyHello = "already_hello"
    /// The token is missing, malformed, badly signed, expired or for another device. Closed with 4001.
    case authFailed = "auth_failed"
    /// No such service on this gateway.
    case unknownService = "unknown_service"
    /// The service exists but the device's token does not allow it.
    case forbiddenService = "forbidden_service"
    /// The message is larger than the edge accepts.
    case tooBig = "too_big"
    /// A field is out of its allowed range (for example an empty or overlong id).
    case invalidField = "invalid_field"
    /// The topic exists as a name but the device's token does not allow subscribing to it.
    case forbiddenTopic = "forbidden_topic"
    /// An `unsub` for a topic this connection is not subscribed to.
    case notSubscribed = "not_subscribed"
    /// A `sub` past the connection's cap on subscriptions.
    case tooManyTopics = "too_many_topics"
    /// A `sub` with a position that is malformed, names no partition of the topic stream, or lies beyond its end.
    case badPosition = "bad_position"
    /// The connection's token expired without a `refresh`: sent just before the close (4008).
    case tokenExpired = "token_expired"
    /// The connection's token was revoked by an operator: sent just before the close (4009).
    case revoked = "revoked"
    /// The gateway cannot take the message now (broker or registry unreachable, queue full): send it again later.
    case unavailable = "unavailable"

    public var retryable: Bool { self == .unavailable }
}
