/// What the HTTP API checks before it reads a body: the limits and keys of this push instance.
public struct PushPolicy: Sendable {
    /// The largest body accepted; a larger one is answered 413 without being buffered.
    public var maxPayloadBytes: Int
    /// App-server keys; when not empty, every push needs `Authorization: Bearer <one of them>`.
    public var apiKeys: Set<String>
    /// App-server keys for publishing to topics (`POST /v1/topics/{topic}`), which always needs one; when empty, that
    /// endpoint answers 403. Separate from ``apiKeys``: a key that reaches one device must not reach every subscriber.
    public var topicAPIKeys: Set<String>
    /// Operators' keys for the admin API (`/v1/revocations`), which always needs one; when empty, it answers 403.
    /// Separate from both: an admin key can stop every device's connection.
    public var adminAPIKeys: Set<String>

    /// The longest TTL honoured (30 days, the router's maximum too); larger values are capped to it.
    public static let maxTTLSeconds = 2_592_000
    /// The longest `Topic` (RFC 8030 §5.4).
    public static let maxTopicLength = 32

    /// The defaults are `gateway push`'s: 4096 bytes, no keys (so no publishing to topics and no admin API).
    public init(maxPayloadBytes: Int = 4096, apiKeys: Set<String> = [], topicAPIKeys: Set<String> = [],
                adminAPIKeys: Set<String> = []) {
        self.maxPayloadBytes = maxPayloadBytes
        self.apiKeys = apiKeys
        self.topicAPIKeys = topicAPIKeys
        self.adminAPIKeys = adminAPIKeys
    }
}
