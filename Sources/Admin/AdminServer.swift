import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// A component's admin HTTP endpoint, on its own port (never the devices'):
/// `GET /healthz` (200 while the process serves), `GET /readyz` (200 when ``Readiness`` says so, else 503 with the
/// reasons), `GET /metrics` (Prometheus text format, from `registry`). Anything else gets 404.
public final class AdminServer: Sendable {
    private let channel: any Channel
    /// The port it listens on (useful when asked for port 0).
    public let port: Int

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    public static func start(host: String, port: Int, registry: PrometheusCollectorRegistry, readiness: Readiness,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> AdminServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(registry: registry, readiness: readiness))
                }
            }
            .bind(host: host, port: port)
            .get()
        return AdminServer(channel: channel, port: channel.localAddress?.port ?? port)
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Answers one admin request at a time on a keep-alive connection.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let readiness: Readiness
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry, readiness: Readiness) {
        self.registry = registry
        self.readiness = readiness
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let (status, type, body) = answer(head)
            SimpleHTTPResponse(status, type, body).write(answering: head, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String, [UInt8]) {
        guard head.method == .GET || head.method == .HEAD else {
            return (.methodNotAllowed, "text/plain", Array("GET only\n".utf8))
        }
        switch head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "" {
        case "/healthz":
            return (.ok, "text/plain", Array("ok\n".utf8))
        case "/readyz":
            if let problems = readiness.problems {
                return (.serviceUnavailable, "text/plain", Array(("not ready: " + problems.joined(separator: "; ") + "\n").utf8))
            }
            return (.ok, "text/plain", Array("ready\n".utf8))
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", registry.emitToBuffer())
        default:
            return (.notFound, "text/plain", Array("not found: /healthz, /readyz, /metrics\n".utf8))
        }
    }
}
