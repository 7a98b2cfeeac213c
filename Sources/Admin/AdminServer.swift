import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// A component's admin HTTP endpoint, on its own port (never the devices'):
/// `GET /healthz` (200 while the process serves), `GET /readyz` (200 when ``Readiness`` says so, else 503 with the
/// reasons), `GET /metrics` (Prometheus text format, from `registry`). Anything else gets 404.
public final class AdminServer: Sendable {
    private let server: SimpleHTTPServer
    /// The port it listens on (useful when asked for port 0).
    public var port: Int { server.port }

    private init(server: SimpleHTTPServer) {
        self.server = server
    }

    public static func start(host: String, port: Int, registry: PrometheusCollectorRegistry, readiness: Readiness,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> AdminServer {
        AdminServer(server: try await SimpleHTTPServer.start(host: host, port: port, group: group) { head in
            answer(head, registry: registry, readiness: readiness)
        })
    }

    public func close() async {
        await server.close()
    }

    private static func answer(_ head: HTTPRequestHead, registry: PrometheusCollectorRegistry, readiness: Readiness) -> SimpleHTTPResponse {
        guard head.method == .GET || head.method == .HEAD else {
            return SimpleHTTPResponse(.methodNotAllowed, "text/plain", Array("GET only\n".utf8))
        }
        switch head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "" {
        case "/healthz":
            return SimpleHTTPResponse(.ok, "text/plain", Array("ok\n".utf8))
        case "/readyz":
            if let problems = readiness.problems {
                return SimpleHTTPResponse(.serviceUnavailable, "text/plain",
                                          Array(("not ready: " + problems.joined(separator: "; ") + "\n").utf8))
            }
            return SimpleHTTPResponse(.ok, "text/plain", Array("ready\n".utf8))
        case "/metrics":
            return SimpleHTTPResponse(.ok, "text/plain; version=0.0.4; charset=utf-8", registry.emitToBuffer())
        default:
            return SimpleHTTPResponse(.notFound, "text/plain", Array("not found: /healthz, /readyz, /metrics\n".utf8))
        }
    }
}
