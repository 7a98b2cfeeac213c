import Foundation
import ChannelProtocol
import Infrastructure
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// The edge's listening socket: TLS (unless the edge runs plaintext), then HTTP/1.1 upgraded to WebSocket at
/// `/v1/channel`, one ``DeviceConnection`` per socket.
///
/// Before anything is read, a new connection must be admitted by the ``ConnectionLimiter`` (edge and per-IP caps,
/// per-IP connect rate), or its TCP connection is closed at once. From accept to the completed upgrade it has the
/// handshake timeout, TLS handshake included, or it is closed. A request for any other path, from a browser origin
/// not allowed, or asking only for subprotocols this edge does not speak, gets a plain HTTP error and never becomes a
/// WebSocket; one that HTTP cannot parse gets 400 and is closed. Frames that break RFC 6455's client rules close the
/// connection with 1002 (``ClientFrameRules``); oversized frames and messages close it with 1009.
enum EdgeServer {
    static let path = "/v1/channel"

    static func bind(host: String, port: Int, group: any EventLoopGroup, edge: EdgeContext,
                     limiter: ConnectionLimiter, tls: TLSContextSource?) async throws -> any Channel {
        let maxBytes = edge.config.maxMessageBytes
        let handshakeTimeout = TimeAmount.seconds(Int64(edge.config.limits.handshakeTimeoutSeconds))
        let origins = edge.config.limits.normalizedOrigins
        let logger = edge.logger
        let sweeps = ConnectionSweeps(group: group)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { server in
                // Out of descriptors, accept fails until some close: pause and say so, rather than spin or stop.
                server.eventLoop.makeCompletedFuture {
                    try server.pipeline.syncOperations.addHandlers(
                        AcceptBackoffHandler(), AcceptErrorLogger(logger: logger, limiter: limiter))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Each connection keeps its last receive buffer for the next read: start it small, since an idle device
            // holds it for hours; it grows at once when a read fills it.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            // With TLS, NIOSSL's two long-lived buffers per connection get pages of their own, so an idle connection
            // holds only the pages it wrote.
            .childChannelOption(.allocator, value: tls == nil ? ByteBufferAllocator() : TLSBufferAllocator.allocator)
            .childChannelInitializer { channel in
                let peer = PeerKey(channel.remoteAddress)
                if case .refused(let refusal, let report) = limiter.admit(peer) {
                    if let report {
                        logger.warning("refused a connection from \(peer): \(limiter.limits.explain(refusal)); \(report) refused for this reason since the last such line")
                    }
                    // Fails the accept: NIO closes the TCP connection before anything is read or sent.
                    return channel.eventLoop.makeFailedFuture(refusal)
                }
                // Timers live in the event loop's timer heap; this one is cancelled by the upgrade or the close.
                let handshake = channel.eventLoop.scheduleTask(in: handshakeTimeout) {
                    logger.debug("closing a connection from \(peer): no WebSocket upgrade within the handshake timeout")
                    channel.close(promise: nil)
                }
                // Only the release is kept until the close: an idle connection must not hold the spent timer.
                channel.closeFuture.whenComplete { _ in limiter.release(peer) }
                return channel.eventLoop.makeCompletedFuture {
                    // Each connection takes the context current at accept, so a reload never touches open ones.
                    try configureConnection(
                        channel, tls: tls?.current, maxBytes: maxBytes, allowedOrigins: origins,
                        upgrading: { handshake.cancel() },
                        device: { channel, encoding in
                            DeviceConnection(edge: edge, encoding: encoding, sweep: sweeps.sweep(for: channel.eventLoop))
                        })
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// Sets up an admitted connection's pipeline: TLS (when `tls` is given), HTTP/1.1 with the WebSocket upgrade at
    /// ``path`` and ``NotAWebSocketResponder`` for every other request; at the upgrade, ``ClientFrameRules``, the frame
    /// aggregator and the handler `device` makes for the negotiated encoding. Split from ``bind`` so that tests build
    /// the same pipeline in an embedded channel, without an ``EdgeContext``.
    /// - Parameters:
    ///   - maxBytes: the largest frame, and the largest message once fragments are joined.
    ///   - upgrading: called first when a request upgrades (``bind`` cancels the handshake timeout there).
    ///   - device: makes the handler behind the aggregator, on the connection's event loop.
    /// - Throws: what adding the handlers throws.
    static func configureConnection(
        _ channel: any Channel, tls: NIOSSLContext?, maxBytes: Int, allowedOrigins origins: Set<String>,
        upgrading: @escaping @Sendable () -> Void,
        device: @escaping @Sendable (any Channel, FrameEncoding) -> any ChannelHandler
    ) throws {
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: maxBytes,
            automaticErrorHandling: false,  // DeviceConnection answers decoder errors
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeSucceededFuture(upgradeHeaders(for: head, allowedOrigins: origins))
            },
            upgradePipelineHandler: { channel, head in
                upgrading()
                // shouldUpgrade refused any request without an encoding we speak, so this always finds one.
                let encoding = FrameEncoding.negotiate(offered: offeredSubprotocols(head)) ?? .json
                // The plain-HTTP responder must not see WebSocket bytes.
                return channel.pipeline.removeHandler(name: NotAWebSocketResponder.name).flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandlers([
                        ClientFrameRules(),
                        NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64,
                            maxAccumulatedFrameSize: maxBytes),
                        device(channel, encoding),
                    ])
                }
            })
        if let tls {
            // NIOSSL allocates its two long-lived buffers as the handler is added (see TLSBufferAllocator).
            try TLSBufferAllocator.withPageBacking {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
            }
        }
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
        try channel.pipeline.syncOperations.addHandler(
            NotAWebSocketResponder(allowedOrigins: origins), name: NotAWebSocketResponder.name)
    }

    /// The headers to upgrade with, or nil to refuse: wrong path, a browser origin not allowed, or no subprotocol we
    /// speak among those offered.
    static func upgradeHeaders(for head: HTTPRequestHead, allowedOrigins: Set<String>) -> HTTPHeaders? {
        guard head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) == path,
              originAllowed(head, allowedOrigins) else { return nil }
        let offered = offeredSubprotocols(head)
        var headers = HTTPHeaders()
        guard let encoding = FrameEncoding.negotiate(offered: offered) else { return nil }
        if !offered.isEmpty { headers.add(name: "Sec-WebSocket-Protocol", value: encoding.subprotocol) }
        return headers
    }

    /// The subprotocols a request offers, in its order of preference.
    static func offeredSubprotocols(_ head: HTTPRequestHead) -> [String] {
        // Split and trimmed by hand: Foundation's trimming cost a few percent of the edge's CPU per connect.
        var offered: [String] = []
        for value in head.headers["Sec-WebSocket-Protocol"] {
            for part in value.utf8.split(separator: UInt8(ascii: ",")) {
                let trimmed = part.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
                if !trimmed.isEmpty { offered.append(String(decoding: trimmed, as: UTF8.self)) }
            }
        }
        return offered
    }

    /// Whether a request may upgrade as far as its origin goes: no list, no `Origin` header (not a browser), or every
    /// `Origin` it carries is listed (compared lowercased, without a trailing slash; `null` only if listed).
    static func originAllowed(_ head: HTTPRequestHead, _ allowed: Set<String>) -> Bool {
        allowed.isEmpty || head.headers["Origin"].allSatisfy { allowed.contains(EdgeLimits.normalize($0)) }
    }
}

/// Answers plain HTTP requests that did not upgrade: 404 for other paths, 403 for /v1/channel from a browser origin
/// not allowed, 426 for /v1/channel without an upgrade (or with no subprotocol we speak).
final class NotAWebSocketResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    static let name = "not-a-websocket"

    private let allowedOrigins: Set<String>

    init(allowedOrigins: Set<String>) {
        self.allowedOrigins = allowedOrigins
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let onPath = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) == EdgeServer.path
        let forbidden = onPath && !EdgeServer.originAllowed(head, allowedOrigins)
        let status: HTTPResponseStatus = forbidden ? .forbidden : onPath ? .upgradeRequired : .notFound
        let body = forbidden
            ? "origin not allowed\n"
            : onPath
            ? "connect with a WebSocket upgrade and subprotocol \(FrameEncoding.allCases.map(\.subprotocol).joined(separator: " or "))\n"
            : "not found: devices connect to \(EdgeServer.path)\n"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        if onPath && !forbidden { headers.add(name: "Upgrade", value: "websocket") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// A request HTTP cannot parse was answered 400 by NIO's protocol error handler, which leaves the connection
    /// open: close it, so that a client sending garbage or oversized headers holds nothing.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Only parse errors: a refused upgrade also passes an error by here, and its request still gets its answer.
        if error is HTTPParserError { context.close(promise: nil) }
    }
}
