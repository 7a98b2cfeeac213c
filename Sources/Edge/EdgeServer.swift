import Foundation
import ChannelProtocol
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The edge's listening socket: HTTP/1.1 upgraded to WebSocket at `/v1/channel`, one ``DeviceConnection`` per socket.
///
/// A request for any other path, or one asking only for subprotocols this edge does not speak, gets a plain HTTP
/// error and never becomes a WebSocket. Oversized frames and messages close the connection with 1009.
enum EdgeServer {
    static let path = "/v1/channel"

    static func bind(host: String, port: Int, group: any EventLoopGroup, edge: EdgeContext) async throws -> any Channel {
        let maxBytes = edge.config.maxMessageBytes
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: maxBytes,
                    automaticErrorHandling: true,
                    shouldUpgrade: { channel, head in
                        channel.eventLoop.makeSucceededFuture(upgradeHeaders(for: head))
                    },
                    upgradePipelineHandler: { channel, _ in
                        // The plain-HTTP responder must not see WebSocket bytes.
                        channel.pipeline.removeHandler(name: NotAWebSocketResponder.name).flatMapThrowing {
                            try channel.pipeline.syncOperations.addHandlers([
                                NIOWebSocketFrameAggregator(
                                    minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64,
                                    maxAccumulatedFrameSize: maxBytes),
                                DeviceConnection(edge: edge),
                            ])
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try channel.pipeline.syncOperations.addHandler(NotAWebSocketResponder(), name: NotAWebSocketResponder.name)
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// The headers to upgrade with, or nil to refuse: wrong path, or no subprotocol we speak among those offered.
    static func upgradeHeaders(for head: HTTPRequestHead) -> HTTPHeaders? {
        guard head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) == path else { return nil }
        let offered = head.headers["Sec-WebSocket-Protocol"]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        var headers = HTTPHeaders()
        if offered.isEmpty { return headers }
        guard offered.contains(JSONFrameCodec.subprotocol) else { return nil }
        headers.add(name: "Sec-WebSocket-Protocol", value: JSONFrameCodec.subprotocol)
        return headers
    }
}

/// Answers plain HTTP requests that did not upgrade: 404 for other paths, 426 for /v1/channel without an upgrade.
final class NotAWebSocketResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    static let name = "not-a-websocket"

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let onPath = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) == EdgeServer.path
        let status: HTTPResponseStatus = onPath ? .upgradeRequired : .notFound
        let body = onPath
            ? "connect with a WebSocket upgrade and subprotocol \(JSONFrameCodec.subprotocol)\n"
            : "not found: devices connect to \(EdgeServer.path)\n"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        if onPath { headers.add(name: "Upgrade", value: "websocket") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
