import ArgumentParser
import Edge
import Foundation

/// The edge's TLS and limit flags. Each has an environment variable (shown in --help) used when the flag is absent,
/// so containers can be configured either way; the defaults are ``EdgeLimits``'s, which are safe on the internet.
///
/// TLS is required: without `--tls-cert` and `--tls-key` the edge refuses to start unless `--plaintext` is given.
struct EdgeSecurityOptions: ParsableArguments {
    @Option(help: ArgumentHelp("PEM certificate chain, leaf first (env CG_TLS_CERT); reread on SIGHUP.", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("PEM private key of that certificate (env CG_TLS_KEY); reread on SIGHUP.", valueName: "file"))
    var tlsKey: String?

    @Flag(help: "Serve plain ws:// without TLS, for development or behind a TLS proxy (env CG_PLAINTEXT=1).")
    var plaintext = false

    @Option(help: "Seconds from TCP accept to a completed WebSocket upgrade, TLS included (env CG_HANDSHAKE_TIMEOUT).")
    var handshakeTimeout: Int = Settings.int("CG_HANDSHAKE_TIMEOUT", default: EdgeLimits().handshakeTimeoutSeconds)

    @Option(help: "Messages per second one connection may send on average; past it and the burst, close 4003 (env CG_MAX_MESSAGES_PER_SECOND).")
    var maxMessagesPerSecond: Double = Settings.double("CG_MAX_MESSAGES_PER_SECOND", default: EdgeLimits().messagesPerSecond)

    @Option(help: "Messages one connection may send at once on top of the rate (env CG_MESSAGE_BURST).")
    var messageBurst: Int = Settings.int("CG_MESSAGE_BURST", default: EdgeLimits().messageBurst)

    @Option(name: .customLong("max-connections-per-ip"),
            help: "Connections one IP (IPv6: one /64) may hold; more are closed at accept (env CG_MAX_CONNECTIONS_PER_IP).")
    var maxConnectionsPerIP: Int = Settings.int("CG_MAX_CONNECTIONS_PER_IP", default: EdgeLimits().maxConnectionsPerIP)

    @Option(name: .customLong("max-connects-per-ip-per-second"),
            help: "New connections one IP may open per second; faster ones are closed at accept (env CG_MAX_CONNECTS_PER_IP_PER_SECOND).")
    var maxConnectsPerIPPerSecond: Double = Settings.double("CG_MAX_CONNECTS_PER_IP_PER_SECOND", default: EdgeLimits().connectsPerIPPerSecond)

    @Option(name: .customLong("connect-burst-per-ip"),
            help: "New connections one IP may open at once on top of that rate (env CG_CONNECT_BURST_PER_IP).")
    var connectBurstPerIP: Int = Settings.int("CG_CONNECT_BURST_PER_IP", default: EdgeLimits().connectBurstPerIP)

    @Option(help: "Connections this edge holds at most (env CG_MAX_CONNECTIONS); default: the open-file limit minus \(EdgeLimits.reservedDescriptors), now \(EdgeLimits.defaultMaxConnections()).")
    var maxConnections: Int?

    @Option(name: .customLong("allowed-origin"),
            help: ArgumentHelp("A browser Origin allowed to connect, as scheme://host[:port]; repeatable (env CG_ALLOWED_ORIGINS, comma-separated). None: any. Requests without Origin are always allowed.", valueName: "origin"))
    var allowedOrigins: [String] = []

    func validate() throws {
        let (tls, plaintext) = try resolvedTransport()
        if tls != nil && plaintext { throw ValidationError("--plaintext with --tls-cert/--tls-key: choose one") }
        guard handshakeTimeout >= 1 else { throw ValidationError("--handshake-timeout: at least 1 second") }
        guard maxMessagesPerSecond > 0, messageBurst >= 1 else {
            throw ValidationError("--max-messages-per-second must be above 0 and --message-burst at least 1")
        }
        guard maxConnectionsPerIP >= 1, maxConnectsPerIPPerSecond > 0, connectBurstPerIP >= 1 else {
            throw ValidationError("--max-connections-per-ip and --connect-burst-per-ip must be at least 1, --max-connects-per-ip-per-second above 0")
        }
        if let limit = try resolvedMaxConnections(), limit < 1 { throw ValidationError("--max-connections: at least 1") }
        for origin in resolvedOrigins.map({ $0.lowercased() }) where !(origin.hasPrefix("http://") || origin.hasPrefix("https://") || origin == "null") {
            throw ValidationError("--allowed-origin: \"\(origin)\" is not an origin such as https://app.example.com")
        }
    }

    /// `ws` or `wss`, for the URL the edge prints.
    var scheme: String { (try? resolvedTransport().tls) != nil ? "wss" : "ws" }

    /// Sets the edge's TLS files (or plaintext) and limits from the flags and environment.
    /// - Throws: `ValidationError` for a value out of range (as `validate()` does).
    func apply(to config: inout EdgeConfig) throws {
        try validate()
        (config.tls, config.plaintext) = try resolvedTransport()
        config.limits.handshakeTimeoutSeconds = handshakeTimeout
        config.limits.messagesPerSecond = maxMessagesPerSecond
        config.limits.messageBurst = messageBurst
        config.limits.maxConnectionsPerIP = maxConnectionsPerIP
        config.limits.connectsPerIPPerSecond = maxConnectsPerIPPerSecond
        config.limits.connectBurstPerIP = connectBurstPerIP
        config.limits.maxConnections = try resolvedMaxConnections()
        config.limits.allowedOrigins = resolvedOrigins
    }

    /// The TLS files and plaintext setting, flags first, then the environment. Whether TLS is required is the edge's
    /// to say when it starts (after checking the broker and Redis), so that it holds however the edge is configured.
    private func resolvedTransport() throws -> (tls: TLSFiles?, plaintext: Bool) {
        let cert = tlsCert ?? env("CG_TLS_CERT")
        let key = tlsKey ?? env("CG_TLS_KEY")
        let plain = plaintext || ["1", "true"].contains(env("CG_PLAINTEXT") ?? "")
        switch (cert, key) {
        case (let cert?, let key?): return (TLSFiles(certificateChain: cert, privateKey: key), plain)
        case (nil, nil): return (nil, plain)
        default: throw ValidationError("--tls-cert and --tls-key (env CG_TLS_CERT, CG_TLS_KEY) go together")
        }
    }

    private func resolvedMaxConnections() throws -> Int? {
        if let maxConnections { return maxConnections }
        guard let text = env("CG_MAX_CONNECTIONS") else { return nil }
        guard let value = Int(text) else { throw ValidationError("CG_MAX_CONNECTIONS: \"\(text)\" is not a number") }
        return value
    }

    private var resolvedOrigins: [String] {
        if !allowedOrigins.isEmpty { return allowedOrigins }
        return (env("CG_ALLOWED_ORIGINS") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
