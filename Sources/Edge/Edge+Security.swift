import Logging

/// How an edge turns its configuration into TLS and connection limits when it starts.
extension Edge {
    /// The TLS context from the configured files; nil when plaintext is configured.
    /// - Throws: ``EdgeSecurityError`` without TLS files and plaintext, or with both; ``TLSFilesError`` for bad files.
    static func loadTLS(_ config: EdgeConfig, logger: Logger) throws -> TLSContextSource? {
        switch (config.tls, config.plaintext) {
        case (nil, false): throw EdgeSecurityError.tlsRequired
        case (.some, true): throw EdgeSecurityError.tlsAndPlaintext
        case (nil, true):
            logger.warning("serving plain ws:// without TLS (--plaintext): for development, or behind a TLS proxy only")
            return nil
        case (let files?, false):
            return try TLSContextSource(files: files, logger: logger)
        }
    }

    /// The limits the connection table enforces, with the connection cap resolved and logged.
    static func connectionLimits(_ limits: EdgeLimits, logger: Logger) -> ConnectionTable.Limits {
        let maxConnections = limits.effectiveMaxConnections
        let files = EdgeLimits.openFileLimit
        if let files, maxConnections > files - EdgeLimits.reservedDescriptors {
            logger.warning("--max-connections \(maxConnections) leaves fewer than \(EdgeLimits.reservedDescriptors) of the \(files) open files allowed for anything else: accept will fail (EMFILE) before the cap is reached")
        }
        logger.info("limits: \(maxConnections) connections (open-file limit \(files.map(String.init) ?? "none")), \(limits.maxConnectionsPerIP) per IP, \(limits.connectsPerIPPerSecond) connects/s per IP (burst \(limits.connectBurstPerIP)), \(limits.messagesPerSecond) messages/s per connection (burst \(limits.messageBurst)), handshake \(limits.handshakeTimeoutSeconds) s, origins \(limits.allowedOrigins.isEmpty ? "any" : limits.allowedOrigins.joined(separator: " "))")
        return ConnectionTable.Limits(
            maxConnections: maxConnections, maxPerPeer: limits.maxConnectionsPerIP,
            connectsPerSecond: limits.connectsPerIPPerSecond, connectBurst: limits.connectBurstPerIP,
            maxIdlePeers: limits.maxIdlePeers)
    }
}
