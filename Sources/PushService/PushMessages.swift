import ServiceKit

/// A subscription as devices see it in `subscribed` and `subscriptions` replies.
public struct SubscriptionInfo: Sendable, Equatable {
    public var id: String
    /// When it stops accepting pushes, Unix milliseconds; nil when it lives until unsubscribed.
    public var expiresMs: Int64?
    public var label: String?

    /// A subscription as shown to its device.
    public init(id: String, expiresMs: Int64?, label: String?) {
        self.id = id
        self.expiresMs = expiresMs
        self.label = label
    }
}

/// The JSON bodies service `push` sends to devices (docs/push.md), built in one place so the shapes the JavaScript
/// client relies on cannot drift apart.
///
/// Guarantees: every body is one JSON object with `op`; `expires` and `label` are always present in subscription
/// objects (null when absent); a notification carries `text` when the payload is valid UTF-8, else `data` (base64).
public enum PushMessages {
    /// The id of the reply to device message `messageID`: `push-<id>`, derived so a repeated batch repeats it. An id
    /// too long for the 128-byte rule is replaced by a hash of it (`push-h-<32 hex digits>`), still deterministic.
    public static func replyID(for messageID: String) -> String {
        MessageID.bounded("push-\(messageID)", service: "push")
    }

    /// The id of a notification on the channel for push message `messageID`.
    public static func notificationID(for messageID: String) -> String { "push-n-\(messageID)" }

    /// `<base>/v1/push/<id>`: where an app server posts pushes for the subscription.
    public static func endpoint(base: String, subscription: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return "\(base)/v1/push/\(subscription)"
    }

    /// The reply to `subscribe`: the subscription with its endpoint on `base`.
    public static func subscribed(_ info: SubscriptionInfo, base: String) -> JSONBody {
        .object([("op", .string("subscribed"))] + fields(info, base: base))
    }

    /// The reply to a successful `unsubscribe`.
    public static func unsubscribed(_ subscription: String) -> JSONBody {
        .object([("op", .string("unsubscribed")), ("subscription", .string(subscription))])
    }

    /// The reply to `list`: the device's live subscriptions, in the order given.
    public static func subscriptions(_ infos: [SubscriptionInfo], base: String) -> JSONBody {
        .object([("op", .string("subscriptions")), ("subscriptions", .array(infos.map { .object(fields($0, base: base)) }))])
    }

    /// `{"op":"error","code":...,"message":...}`; codes are `bad_request` and `not_found`.
    public static func error(code: String, message: String) -> JSONBody {
        .object([("op", .string("error")), ("code", .string(code)), ("message", .string(message))])
    }

    /// The message a device receives for one push.
    public static func notification(subscription: String, label: String?, request: PushRequest, payload: [UInt8]) -> JSONBody {
        let text = String(validating: payload, as: UTF8.self)
        return .object([
            ("op", .string("notification")),
            ("subscription", .string(subscription)),
            ("label", label.map { .string($0) }),
            ("urgency", .string(request.urgency.rawValue)),
            ("ttl", .int(Int64(request.ttlSeconds))),
            ("topic", request.topic.map { .string($0) }),
            ("text", text.map { .string($0) }),
            ("data", text == nil ? .string(base64(payload)) : nil),
        ])
    }

    private static func fields(_ info: SubscriptionInfo, base: String) -> [(String, JSONBody?)] {
        [
            ("subscription", .string(info.id)),
            ("endpoint", .string(endpoint(base: base, subscription: info.id))),
            ("expires", info.expiresMs.map { .int($0) } ?? .null),
            ("label", info.label.map { .string($0) } ?? .null),
        ]
    }

    /// Standard base64 with padding (RFC 4648 §4), as the protocol's `data` fields use.
    static func base64(_ bytes: [UInt8]) -> String {
        let url = SubscriptionID.base64url(bytes)
        let standard = String(url.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        return standard + String(repeating: "=", count: (4 - standard.count % 4) % 4)
    }
}
