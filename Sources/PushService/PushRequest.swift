/// A push whose head passed every check: the body may now be read (up to ``PushPolicy/maxPayloadBytes``).
public struct PushRequest: Sendable, Equatable {
    public var subscription: String
    /// The TTL used, in seconds: the request's, capped at ``PushPolicy/maxTTLSeconds``. 0 means "only now".
    public var ttlSeconds: Int
    public var urgency: Urgency
    public var topic: String?
    /// The client sent `Expect: 100-continue` and waits for a `100 Continue` before sending the body.
    public var expectsContinue: Bool

    /// A checked push; the parser builds these, tests may too.
    public init(subscription: String, ttlSeconds: Int, urgency: Urgency = .normal, topic: String? = nil,
                expectsContinue: Bool = false) {
        self.subscription = subscription
        self.ttlSeconds = ttlSeconds
        self.urgency = urgency
        self.topic = topic
        self.expectsContinue = expectsContinue
    }
}

/// What to do with a request, decided from its head alone.
public enum PushRoute: Sendable, Equatable {
    /// `POST /v1/push/{subscription}` that passed every check of the head.
    case push(PushRequest)
    /// `POST /v1/topics/{topic}` that passed every check of the head.
    case publish(TopicPublishRequest)
    /// A CORS preflight (`OPTIONS /v1/push/{subscription}` or `OPTIONS /v1/topics/{topic}`): answer 204 with the
    /// allowed methods and headers.
    case preflight

    /// Whether the client waits for a `100 Continue` before it sends the body.
    var expectsContinue: Bool {
        switch self {
        case .push(let request): request.expectsContinue
        case .publish(let request): request.expectsContinue
        case .preflight: false
        }
    }
}

/// The pure checks of the HTTP API (docs/push.md): method, path, headers and declared size of a request → a
/// ``PushRoute`` or the ``PushRejection`` to answer with. No I/O, so every rule is unit-tested.
///
/// Order (the first failing check answers): path (404), method (405), API key (401), `TTL`, `Urgency`, `Topic` (400),
/// `Content-Length` (413). A preflight needs no key: browsers never send credentials with one. Publishes to topics
/// have checks of their own (``topicRoute(method:path:headers:policy:)``).
public enum PushRequestParser {
    /// - Parameters:
    ///   - method: the HTTP method, upper case as sent (`POST`).
    ///   - uri: the request target; a query string is ignored.
    ///   - headers: every header as sent; names are matched case-insensitively, and the first of a repeated one wins.
    public static func route(method: String, uri: String, headers: [(name: String, value: String)],
                             policy: PushPolicy) -> Result<PushRoute, PushRejection> {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        if path.hasPrefix(topicsPath) { return topicRoute(method: method, path: path, headers: headers, policy: policy) }
        let prefix = "/v1/push/"
        guard path.hasPrefix(prefix) else { return .failure(.notFound) }
        let subscription = String(path.dropFirst(prefix.count))
        guard SubscriptionID.isWellFormed(subscription) else { return .failure(.notFound) }
        switch method {
        case "OPTIONS": return .success(.preflight)
        case "POST": break
        default: return .failure(.methodNotAllowed)
        }
        func header(_ name: String) -> String? { Self.header(name, in: headers) }
        if !policy.apiKeys.isEmpty {
            guard BearerAuthorization.allows(header("authorization"), keys: policy.apiKeys) else {
                return .failure(PushRejection(status: 401, code: "unauthorized",
                                              message: "this push service needs Authorization: Bearer <api key>"))
            }
        }
        guard let ttlText = header("ttl") else {
            return .failure(.badRequest("bad_ttl", "the TTL header is required: seconds the message may wait (RFC 8030)"))
        }
        guard !ttlText.isEmpty, ttlText.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            return .failure(.badRequest("bad_ttl", "TTL must be a non-negative integer number of seconds"))
        }
        // Digits only, so the only way Int() fails is overflow: a huge TTL is capped like any above the maximum.
        let ttl = Int(ttlText) ?? Int.max
        var urgency = Urgency.normal
        if let text = header("urgency") {
            guard let value = Urgency(rawValue: text) else {
                return .failure(.badRequest("bad_urgency", "Urgency must be very-low, low, normal or high"))
            }
            urgency = value
        }
        let topic = header("topic")
        if let topic {
            guard !topic.isEmpty, topic.utf8.count <= PushPolicy.maxTopicLength,
                  topic.utf8.allSatisfy(SubscriptionID.isBase64URL) else {
                return .failure(.badRequest("bad_topic", "Topic must be 1 to 32 characters of the base64url alphabet (A-Z a-z 0-9 - _)"))
            }
        }
        if let length = header("content-length").flatMap({ Int($0) }), length > policy.maxPayloadBytes {
            return .failure(.tooLarge(limit: policy.maxPayloadBytes))
        }
        let expects = header("expect")?.lowercased() == "100-continue"
        return .success(.push(PushRequest(subscription: subscription, ttlSeconds: min(ttl, PushPolicy.maxTTLSeconds),
                                          urgency: urgency, topic: topic, expectsContinue: expects)))
    }

    /// The first header named `name` (lower case), without surrounding spaces.
    static func header(_ name: String, in headers: [(name: String, value: String)]) -> String? {
        headers.first { $0.name.lowercased() == name }?.value.trimmingSpaces
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmingSpaces: String {
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
              let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
