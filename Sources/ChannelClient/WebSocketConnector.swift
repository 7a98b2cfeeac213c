import ChannelProtocol
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// Opens the WebSocket of a ``DeviceClient``: TCP connect, HTTP upgrade with the protocol's subprotocol, then
/// a frame aggregator and ``ClientConnectionHandler``.
enum WebSocketConnector {
    enum Upgrade {
        case upgraded(DeviceClient)
        case refused(status: Int)
    }

    static func connect(url: String, subprotocols: [String], localAddress: String?, group: any EventLoopGroup,
                        observer: (@Sendable (Frame) -> Void)?) async throws -> DeviceClient {
        guard let parsed = URL(string: url), parsed.scheme == "ws", let host = parsed.host else {
            throw DeviceClient.Failure.notUpgraded(status: 0)
        }
        let port = parsed.port ?? 80
        let path = parsed.path.isEmpty ? "/" : parsed.path
        var bootstrap = ClientBootstrap(group: group).channelOption(.socketOption(.tcp_nodelay), value: 1)
        if let localAddress { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localAddress, port: 0)) }
        let upgrade: EventLoopFuture<Upgrade> = try await bootstrap
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(
                        maxFrameSize: 16 * 1024 * 1024,
                        upgradePipelineHandler: { channel, response in
                            channel.eventLoop.makeCompletedFuture {
                                // No subprotocol in the answer means the edge speaks JSON.
                                let answered = response.headers["Sec-WebSocket-Protocol"].first ?? ""
                                let encoding = FrameEncoding(subprotocol: answered) ?? .json
                                let client = DeviceClient(channel: channel, encoding: encoding, observer: observer)
                                try channel.pipeline.syncOperations.addHandlers([
                                    NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024,
                                                                maxAccumulatedFrameSize: 16 * 1024 * 1024),
                                    ClientConnectionHandler(client: client),
                                ])
                                return .upgraded(client)
                            }
                        })
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: "\(host):\(port)")
                    headers.add(name: "Content-Length", value: "0")
                    if !subprotocols.isEmpty { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocols.joined(separator: ", ")) }
                    let config = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
                        upgradeRequestHead: HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers),
                        upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                channel.close(promise: nil)
                                return .refused(status: 0)
                            }
                        })
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: config))
                }
            }
        switch try await upgrade.get() {
        case .upgraded(let client): return client
        case .refused(let status): throw DeviceClient.Failure.notUpgraded(status: status)
        }
    }
}

/// Feeds a ``DeviceClient`` with what the edge sends and answers pings.
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let client: DeviceClient
    private var closeCode: UInt16?

    init(client: DeviceClient) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            client.received(Array(buffer: frame.unmaskedData))
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            var data = frame.unmaskedData
            closeCode = data.readInteger(as: UInt16.self)
            context.close(promise: nil)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.ended(code: closeCode)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
