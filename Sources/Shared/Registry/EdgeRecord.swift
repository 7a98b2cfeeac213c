/// An edge's liveness record in Redis (`<prefix>:edge:<edge>`, docs/redis-schema.md): which process of the edge is
/// running and where routers and other edges reach its hand-off listener.
///
/// The value is ASCII text, `<instance> <port> <host>`: the host comes last so that it may hold anything but a newline
/// (an IPv6 address, a DNS name). A record that does not parse counts as no record.
public struct EdgeRecord: Sendable, Equatable {
    /// Random per process: an edge restarted under the same id has a new instance.
    public var instance: String
    public var host: String
    public var port: Int

    public init(instance: String, host: String, port: Int) {
        self.instance = instance
        self.host = host
        self.port = port
    }

    public var value: String { "\(instance) \(port) \(host)" }

    public init?(value: String) {
        let parts = value.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[2].isEmpty, !parts[2].contains("\n"),
              let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
        self.init(instance: String(parts[0]), host: String(parts[2]), port: port)
    }
}
