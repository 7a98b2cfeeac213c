import ChannelProtocol

/// A publish to a device topic (`POST /v1/topics/{topic}`, docs/push.md) whose head passed every check: the body may
/// now be read (up to ``PushPolicy/maxPayloadBytes``).
public struct TopicPublishRequest: Sendable, Equatable {
    /// The topic, percent-decoded from the path and checked against ``TopicRules``.
    public var topic: String
    /// The request's media type is `application/json`: a body that is valid JSON is published as JSON.
    public var declaresJSON: Bool
    /// The client sent `Expect: 100-continue` and waits for a `100 Continue` before sending the body.
    public var expectsContinue: Bool

    /// A checked publish; the parser builds these, tests may too.
    public init(topic: String, declaresJSON: Bool = false, expectsContinue: Bool = false) {
        self.topic = topic
        self.declaresJSON = declaresJSON
        self.expectsContinue = expectsContinue
    }

    /// What subscribers get: `body` as JSON when the request declared JSON and it is one valid JSON value, else as
    /// binary (devices then see base64 `data`).
    public func payload(_ body: [UInt8]) -> Payload {
        declaresJSON && JSONScanner.isValidValue(body) ? .json(body) : .binary(body)
    }
}
