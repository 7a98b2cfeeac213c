/// Where a Redis server is and how to talk to it.
///
/// The password is sent with AUTH on every (re)connect and is never logged or printed: `description`
/// shows only `host:port`.
public struct RedisEndpoint: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var password: String?
    /// How long one TCP connect may take before the attempt fails.
    public var connectTimeout: Duration
    /// Socket read/write timeout on an established connection. A reply that takes longer fails the
    /// in-flight requests as a connection error and the client reconnects, so a hung server never blocks the
    /// client thread for good. Keep it above the slowest command or script you run.
    public var commandTimeout: Duration

    public init(
        host: String = "127.0.0.1", port: Int = 6379, password: String? = nil,
        connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.password = password
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    public var description: String { "\(host):\(port)" }
}
