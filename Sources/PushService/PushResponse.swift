import ServiceKit

/// Why the HTTP API refused a request: the status, a stable machine-readable code and a sentence for people.
///
/// Guarantees: the body is always JSON `{"error":"<code>","message":"<text>"}`; 429 and 503 carry a `Retry-After`;
/// 405 carries `Allow`; 413 closes the connection, since the body it refused is not read.
public struct PushRejection: Error, Sendable, Equatable {
    public var status: Int
    public var code: String
    public var message: String
    /// Seconds after which a retry may succeed (`Retry-After`), for 429 and 503.
    public var retryAfterSeconds: Int?
    /// Whether to close the connection after answering (the request's body is left unread).
    public var closesConnection: Bool
    /// For 405: the methods the path takes (`Allow`); nil means the push paths' `POST, OPTIONS`.
    public var allow: String?

    /// A refusal with `status` and the JSON error `code`.
    public init(status: Int, code: String, message: String, retryAfterSeconds: Int? = nil, closesConnection: Bool = false) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
        self.closesConnection = closesConnection
    }

    /// 404: no such subscription, or a path that names none.
    public static let notFound = PushRejection(status: 404, code: "not_found",
                                               message: "no such push subscription (POST /v1/push/{subscription})")
    /// 410: unsubscribed or past its `expires` (a tombstone).
    public static let gone = PushRejection(status: 410, code: "gone",
                                           message: "this subscription was unsubscribed or has expired")
    /// 405: neither POST nor OPTIONS.
    public static let methodNotAllowed = PushRejection(status: 405, code: "method_not_allowed",
                                                       message: "use POST (or OPTIONS for a CORS preflight)")

    /// 403: this push service has no topic API keys, so it publishes to no topic.
    public static let topicsDisabled = PushRejection(
        status: 403, code: "topics_disabled",
        message: "this push service does not publish to topics: start it with --topic-api-keys (docs/push.md)")
    /// 401 for a publish to a topic without one of the topic API keys.
    public static let unauthorizedForTopics = PushRejection(
        status: 401, code: "unauthorized", message: "publishing to a topic needs Authorization: Bearer <topic api key>")

    /// 400 with a specific code (`bad_ttl`, `bad_urgency`, `bad_topic`).
    public static func badRequest(_ code: String, _ message: String) -> PushRejection {
        PushRejection(status: 400, code: code, message: message)
    }

    /// 413; closes the connection, since the body is left unread.
    public static func tooLarge(limit: Int) -> PushRejection {
        PushRejection(status: 413, code: "payload_too_large", message: "the body is larger than \(limit) bytes",
                      closesConnection: true)
    }

    /// 429 with `Retry-After`.
    public static func rateLimited(retryAfter: Int, limit: Int) -> PushRejection {
        PushRejection(status: 429, code: "rate_limited",
                      message: "more than \(limit) pushes this minute to this subscription", retryAfterSeconds: retryAfter)
    }

    /// 503 with `Retry-After`: `what` (Redis, Kafka) did not answer.
    public static func unavailable(_ what: String, retryAfter: Int = 5) -> PushRejection {
        PushRejection(status: 503, code: "unavailable", message: "\(what) is unavailable; try again later",
                      retryAfterSeconds: retryAfter)
    }
}

/// One HTTP response of the push API, before it is written: status, headers and body.
///
/// Guarantees: ``final(corsOrigin:keepAlive:)`` adds the headers every response has (CORS, `Content-Length`,
/// `Connection: close` when the connection ends), so no code path can forget them.
public struct PushResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [Header]
    public var body: [UInt8]
    /// Whether the connection is closed after this response.
    public var closesConnection: Bool

    /// One header line.
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        /// A header `name: value`.
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// A response; ``final(corsOrigin:keepAlive:)`` completes its headers before it is written.
    public init(status: Int, headers: [Header] = [], body: [UInt8] = [], closesConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.closesConnection = closesConnection
    }

    /// The headers a page needs to read these responses (exposed on every response, where browsers look for them).
    public static let exposedHeaders = "Location, TTL, Retry-After"

    /// 201: the message is durable in Kafka.
    public static func created(messageID: String, ttlSeconds: Int) -> PushResponse {
        PushResponse(status: 201, headers: [
            Header("Location", "/v1/push/messages/\(messageID)"), Header("TTL", String(ttlSeconds)),
            Header("Content-Type", "application/json"),
        ], body: JSONBody.object([("id", .string(messageID)), ("ttl", .int(Int64(ttlSeconds)))]).bytes)
    }

    /// 201 to a publish: the message is durable in Kafka at `position` of `<prefix>.topics`, where subscribers see it.
    public static func published(topic: String, position: TopicPosition) -> PushResponse {
        PushResponse(status: 201, headers: [Header("Content-Type", "application/json")],
                     body: JSONBody.object([("topic", .string(topic)), ("pos", .string(position.description))]).bytes)
    }

    /// 204 to a CORS preflight.
    public static let preflight = PushResponse(status: 204, headers: [
        Header("Access-Control-Allow-Methods", "POST"),
        Header("Access-Control-Allow-Headers", "TTL, Urgency, Topic, Content-Type, Authorization"),
        Header("Access-Control-Max-Age", "600"),
    ])

    /// The JSON error body and headers for `rejection`.
    public static func error(_ rejection: PushRejection) -> PushResponse {
        var headers = [Header("Content-Type", "application/json")]
        if let retry = rejection.retryAfterSeconds { headers.append(Header("Retry-After", String(retry))) }
        if rejection.status == 405 { headers.append(Header("Allow", rejection.allow ?? "POST, OPTIONS")) }
        let body = JSONBody.object([("error", .string(rejection.code)), ("message", .string(rejection.message))]).bytes
        return PushResponse(status: rejection.status, headers: headers, body: body, closesConnection: rejection.closesConnection)
    }

    /// The response as written: with CORS headers, `Content-Length`, and `Connection: close` when it closes the
    /// connection (asked by this response or by the client).
    public func final(corsOrigin: String, keepAlive: Bool) -> PushResponse {
        var out = self
        out.headers.append(Header("Access-Control-Allow-Origin", corsOrigin))
        out.headers.append(Header("Access-Control-Expose-Headers", Self.exposedHeaders))
        if corsOrigin != "*" { out.headers.append(Header("Vary", "Origin")) }
        out.headers.append(Header("Content-Length", String(body.count)))
        out.closesConnection = closesConnection || !keepAlive
        if out.closesConnection { out.headers.append(Header("Connection", "close")) }
        return out
    }
}
