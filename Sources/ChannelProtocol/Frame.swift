/// One frame of device protocol v1, independent of its encoding on the wire.
///
/// The same frames travel in every encoding (JSON text and compact binary); see docs/protocol.md.
public enum Frame: Sendable, Equatable {
    /// Device → edge, first frame of a connection: who the device is and the token proving it.
    case hello(Hello)
    /// Edge → device, answer to a good hello.
    case welcome(Welcome)
    /// Either way: a message between the device and a service.
    case msg(Message)
    /// Either way: the receiver has the message with this id (device → edge: the edge has delivered it to a
    /// service's topic; edge → device: the device processed it).
    case ack(id: String)
    /// Edge → device: something the device sent was refused.
    case error(ProtocolError)
    /// Edge → device: close this connection and connect again (to any edge) after `delayMs`.
    case reconnect(delayMs: Int)
    /// Device → edge: deliver the messages of `topic`; with a position, first every later one still in the window.
    case subscribe(topic: String, position: TopicPosition?)
    /// Device → edge: stop delivering `topic`.
    case unsubscribe(topic: String)
    /// Edge → device: the subscription is in place (sent before any replayed message).
    case subscribed(topic: String)
    /// Edge → device: the subscription is gone (the answer to `unsubscribe`).
    case unsubscribed(topic: String)
    /// Edge → device: one message of a subscribed topic.
    case event(TopicEvent)
    /// Edge → device: messages of `topic` up to and including `position` were missed and cannot be delivered;
    /// delivery goes on after it.
    case gap(topic: String, position: TopicPosition)
    /// Device → edge: a new token for the same device; once verified it replaces the connection's grant (services,
    /// topics, expiry) for everything the device sends next.
    case refresh(token: String)
    /// Edge → device, the answer to a good `refresh`: the connection's token now expires at `expiresAt` (Unix seconds).
    case refreshed(expiresAt: Int)
    /// Edge → device: the connection's token expires at `expiresAt` (Unix seconds); send `refresh` before then, or the
    /// connection is closed (4008) after the grace.
    case refreshDue(expiresAt: Int)

    /// The `type` name of the frame in every encoding.
    public var typeName: String {
        switch self {
        case .hello: return "hello"
        case .welcome: return "welcome"
        case .msg: return "msg"
        case .ack: return "ack"
        case .error: return "error"
        case .reconnect: return "reconnect"
        case .subscribe: return "sub"
        case .unsubscribe: return "unsub"
        case .subscribed: return "subscribed"
        case .unsubscribed: return "unsubscribed"
        case .event: return "event"
        case .gap: return "gap"
        case .refresh: return "refresh"
        case .refreshed: return "refreshed"
        case .refreshDue: return "refresh_due"
        }
    }
}

/// The first frame a device sends.
public struct Hello: Sendable, Equatable {
    public var device: String
    public var token: String

    public init(device: String, token: String) {
        self.device = device
        self.token = token
    }
}

/// The edge's answer to a good hello: where the device is connected and the limits it must keep.
public struct Welcome: Sendable, Equatable {
    public var edge: String
    public var session: String
    /// Seconds between the edge's WebSocket pings; a device that hears nothing for twice this may reconnect.
    public var heartbeatSeconds: Int
    /// The largest message (whole WebSocket message, in bytes) the edge accepts.
    public var maxMessageBytes: Int
    /// When the token the connection was accepted with expires (Unix seconds); nil from an edge that does not say.
    /// The device refreshes before then (`refresh`), or the connection is closed (4008) after the grace.
    public var tokenExpiresAt: Int?

    public init(edge: String, session: String, heartbeatSeconds: Int, maxMessageBytes: Int, tokenExpiresAt: Int? = nil) {
        self.edge = edge
        self.session = session
        self.heartbeatSeconds = heartbeatSeconds
        self.maxMessageBytes = maxMessageBytes
        self.tokenExpiresAt = tokenExpiresAt
    }
}

/// A message for or from a service.
public struct Message: Sendable, Equatable {
    /// The service it is for (device → edge) or from (edge → device).
    public var service: String
    /// Chosen by the sender; the receiver acks it and drops duplicates by it.
    public var id: String
    public var payload: Payload

    public init(service: String, id: String, payload: Payload) {
        self.service = service
        self.id = id
        self.payload = payload
    }
}

/// The body of a message, carried to and from Kafka as these exact bytes.
public enum Payload: Sendable, Equatable {
    /// UTF-8 JSON text of one JSON value (`body` in the JSON encoding; content type application/json).
    case json([UInt8])
    /// Opaque bytes (`data`, base64, in the JSON encoding; content type application/octet-stream).
    case binary([UInt8])

    public var bytes: [UInt8] {
        switch self {
        case .json(let b), .binary(let b): return b
        }
    }

    /// The content type recorded in the Kafka record's headers.
    public var contentType: String {
        switch self {
        case .json: return ContentType.json
        case .binary: return ContentType.binary
        }
    }

    /// The payload for bytes of `contentType`; JSON only when the bytes really are one JSON value that fits in a
    /// frame's nesting limit (one level less than the frame's, which is the payload's enclosing object).
    public static func from(bytes: [UInt8], contentType: String?) -> Payload {
        if contentType == ContentType.json && JSONScanner.isValidValue(bytes, maxDepth: JSONScanner.defaultMaxDepth - 1) {
            return .json(bytes)
        }
        return .binary(bytes)
    }
}

/// The content types of payloads in Kafka record headers.
public enum ContentType {
    public static let json = "application/json"
    public static let binary = "application/octet-stream"
}
