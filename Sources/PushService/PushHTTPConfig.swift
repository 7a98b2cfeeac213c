import NIOCore

/// What the HTTP side needs besides the endpoint: the checks' policy, the CORS origin and how long a client may take.
public struct PushHTTPConfig: Sendable {
    public var policy: PushPolicy
    /// `Access-Control-Allow-Origin` of every response.
    public var corsOrigin: String
    /// How long a connection may sit before sending a request head, and how long a request may take to arrive whole
    /// once its head is in; past either the connection is closed, so slow clients cannot hold memory forever.
    public var requestTimeout: TimeAmount

    /// - Parameter requestTimeout: see ``requestTimeout``.
    public init(policy: PushPolicy, corsOrigin: String = "*", requestTimeout: TimeAmount = .seconds(30)) {
        self.policy = policy
        self.corsOrigin = corsOrigin
        self.requestTimeout = requestTimeout
    }
}
