import Admin
import ChannelProtocol
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Shared

/// What the demo page needs to know about the local cluster, served as JSON at `/demo/config`.
struct DemoConfig: Codable, Sendable {
    /// The edges' WebSocket URLs; the page connects to one of them and moves on when it goes.
    var edges: [String]
    /// The push service's HTTP base URL, if it runs.
    var push: String?
    /// The services the edges offer.
    var services: [String]
}

/// The demo's web server, run by `gateway dev` only: the page and the JavaScript client (``DemoSite``), the cluster's
/// addresses (`/demo/config`) and development tokens (`/demo/token?device=<id>`, signed with the development key
/// every `gateway dev` edge accepts, valid for an hour, for any service).
///
/// Guarantees: serves only the site's fixed files; a device id outside the protocol's rule gets 400; token minting
/// runs off the event loop.
final class DemoServer: Sendable {
    private let channel: any Channel
    let port: Int

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    static func start(host: String, port: Int, site: DemoSite, config: DemoConfig) async throws -> DemoServer {
        let tokens = try await TokenAuthority(keys: [.development])
        let configJSON = Array(try JSONEncoder().encode(config))
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        DemoHandler(site: site, configJSON: configJSON, tokens: tokens))
                }
            }
            .bind(host: host, port: port)
            .get()
        return DemoServer(channel: channel, port: channel.localAddress?.port ?? port)
    }

    func close() async {
        try? await channel.close()
    }
}

/// Answers one request at a time on a keep-alive connection.
private final class DemoHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let site: DemoSite
    private let configJSON: [UInt8]
    private let tokens: TokenAuthority
    private var head: HTTPRequestHead?

    init(site: DemoSite, configJSON: [UInt8], tokens: TokenAuthority) {
        self.site = site
        self.configJSON = configJSON
        self.tokens = tokens
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            answer(head, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard head.method == .GET || head.method == .HEAD else {
            return respond(head, .methodNotAllowed, "text/plain", Array("GET only\n".utf8), context: context)
        }
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? "/"
        if let file = site.files[path] {
            return respond(head, .ok, file.contentType, file.bytes, context: context)
        }
        switch path {
        case "/demo/config":
            respond(head, .ok, "application/json", configJSON, context: context)
        case "/demo/token":
            let device = parts.count > 1 ? Self.queryValue("device", in: String(parts[1])) : nil
            guard let device, FieldRules.isDeviceID(device) else {
                return respond(head, .badRequest, "application/json",
                               Array(#"{"error":"bad_request","message":"device: 1-128 characters of A-Z a-z 0-9 . - _ : @"}"#.utf8),
                               context: context)
            }
            let tokens = self.tokens
            let promise = context.eventLoop.makePromise(of: String.self)
            promise.completeWithTask { try await tokens.mint(device: device, services: ["*"], ttl: .seconds(3600)) }
            promise.futureResult.assumeIsolated().whenComplete { [self] result in
                switch result {
                case .success(let token):
                    let body = (try? JSONEncoder().encode(["device": device, "token": token])).map(Array.init) ?? []
                    respond(head, .ok, "application/json", body, context: context)
                case .failure(let error):
                    respond(head, .internalServerError, "text/plain", Array("cannot mint a token: \(error)\n".utf8), context: context)
                }
            }
        default:
            respond(head, .notFound, "text/plain", Array("not found\n".utf8), context: context)
        }
    }

    private func respond(_ head: HTTPRequestHead, _ status: HTTPResponseStatus, _ type: String, _ body: [UInt8],
                         context: ChannelHandlerContext) {
        SimpleHTTPResponse(status, type, body, headers: [("Cache-Control", "no-store")]).write(answering: head, context: context)
    }

    /// The percent-decoded value of `name` in a query string.
    static func queryValue(_ name: String, in query: String) -> String? {
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.count == 2, kv[0] == name { return String(kv[1]).removingPercentEncoding }
        }
        return nil
    }
}
