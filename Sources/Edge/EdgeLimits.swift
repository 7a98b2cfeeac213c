import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one edge lets a peer do, before and after its WebSocket is up. The defaults are safe on the internet; each
/// limit's answer when exceeded is part of the protocol (docs/protocol.md, "Limits").
///
/// "Per IP" means per IPv4 address, or per /64 prefix for IPv6 (see ``PeerKey``). Refusals at accept close the TCP
/// connection at once, before TLS or HTTP: no answer is cheaper, and a refused peer learns nothing but to back off.
public struct EdgeLimits: Sendable, Equatable {
    /// Seconds from TCP accept to a completed WebSocket upgrade, TLS handshake included; past it the TCP connection
    /// is closed. This is what ends slow-loris handshakes. The hello timeout starts after the upgrade.
    public var handshakeTimeoutSeconds = 10
    /// WebSocket messages a connection may send per second on average (every frame counts, pings and pongs too);
    /// past it and its burst, the connection is closed with 4003 (too fast).
    public var messagesPerSecond: Double = 50
    /// Messages a connection may send at once on top of its rate.
    public var messageBurst = 100
    /// Connections one IP may hold on this edge; more are closed at accept.
    public var maxConnectionsPerIP = 1000
    /// New connections one IP may open per second on average; faster ones are closed at accept.
    public var connectsPerIPPerSecond: Double = 200
    /// New connections one IP may open at once on top of its connect rate.
    public var connectBurstPerIP = 1000
    /// Connections this edge holds at most; more are closed at accept. Nil: ``defaultMaxConnections()``.
    public var maxConnections: Int?
    /// Browser origins (`scheme://host[:port]`) allowed to open a WebSocket. Empty: any. Otherwise an upgrade whose
    /// `Origin` header is present and not listed gets 403; one without `Origin` (not a browser) is allowed.
    public var allowedOrigins: [String] = []
    /// Peers without open connections remembered for their connect rate, at most (see ``ConnectionTable``).
    public var maxIdlePeers = 65_536

    public init() {}

    /// Descriptors kept free of connections: Kafka and Redis sockets, the listening socket, event loops, log files.
    public static let reservedDescriptors = 256

    /// The process's soft limit on open files, or nil if unlimited or unknown.
    public static var openFileLimit: Int? {
        var limit = rlimit()
        #if canImport(Glibc)
        let status = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        #else
        let status = getrlimit(RLIMIT_NOFILE, &limit)
        #endif
        guard status == 0, limit.rlim_cur != rlim_t.max else { return nil }  // RLIM_INFINITY
        return Int(clamping: limit.rlim_cur)
    }

    /// The open-file soft limit less ``reservedDescriptors`` (at least 1), or 1,000,000 when there is no limit: the
    /// edge refuses connections before `accept` could fail for want of descriptors.
    public static func defaultMaxConnections() -> Int {
        guard let files = openFileLimit else { return 1_000_000 }
        return max(files - reservedDescriptors, 1)
    }

    /// Checks every limit is in its range, so that none can stop the edge once it runs.
    /// - Throws: ``EdgeSecurityError/invalidLimit(_:)`` naming the first that is not.
    public func validate() throws {
        let problems: [(Bool, String)] = [
            (handshakeTimeoutSeconds >= 1, "the handshake timeout must be at least 1 s"),
            (messagesPerSecond > 0 && messageBurst >= 1, "the message rate must be above 0 and its burst at least 1"),
            (maxConnectionsPerIP >= 1, "the connections per IP must be at least 1"),
            (connectsPerIPPerSecond > 0 && connectBurstPerIP >= 1, "the connect rate per IP must be above 0 and its burst at least 1"),
            ((maxConnections ?? 1) >= 1, "the maximum connections must be at least 1"),
            (maxIdlePeers >= 1, "the idle peers remembered must be at least 1"),
        ]
        if let (_, problem) = problems.first(where: { !$0.0 }) { throw EdgeSecurityError.invalidLimit(problem) }
    }

    /// The connection cap in force: the configured one, or the default.
    public var effectiveMaxConnections: Int { maxConnections ?? Self.defaultMaxConnections() }

    /// `allowedOrigins` as the edge compares them: lowercased, without a trailing slash.
    var normalizedOrigins: Set<String> { Set(allowedOrigins.map(Self.normalize)) }

    static func normalize(_ origin: String) -> String {
        var text = origin.trimmingCharacters(in: .whitespaces).lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
