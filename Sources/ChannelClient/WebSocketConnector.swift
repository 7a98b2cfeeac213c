import ChannelProtocol
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// Opens the WebSocket of a ``DeviceClient``: TCP connect, TLS for `wss://`, HTTP upgrade with the protocol's
/// subprotocol, then a frame aggregator and ``ClientConnectionHandler``.
enum WebSocketConnector {
    enum Upgrade {
        case upgraded(DeviceClient)
        case refused(status: Int)
    }

    /// - Parameter tls: for a `wss://` URL, what to trust (nil: ``ClientTLS/system``); not used for `ws://`.
    /// How long the edge may take to answer the upgrade request (TCP connect and TLS included).
    static let upgradeTimeout: TimeAmount = .seconds(10)

    static func connect(url: String, subprotocols: [String], localAddress: String?, tls: ClientTLS? = nil,
                        group: any EventLoopGroup, observer: (@Sendable (Frame) -> Void)?) async throws -> DeviceClient {
        guard let parsed = URL(string: url), parsed.scheme == "ws" || parsed.scheme == "wss", let host = parsed.host else {
            throw DeviceClient.Failure.notUpgraded(status: 0)
        }
        let secure = parsed.scheme == "wss"
        let port = parsed.port ?? (secure ? 443 : 80)
        let path = parsed.path.isEmpty ? "/" : parsed.path
        let address = try? SocketAddress(ipAddress: host, port: port)
        // The context is the ClientTLS value's, built once for all its connections.
        let tlsContext = secure ? try (tls ?? .system).context() : nil
        let serverHostname = secure ? sniName(tls?.serverName ?? host) : nil
        var bootstrap = ClientBootstrap(group: group).channelOption(.socketOption(.tcp_nodelay), value: 1)
        if let localAddress {
            // IP_BIND_ADDRESS_NO_PORT (24 on Linux): the port is picked at connect time for the whole 4-tuple,
            // rather than by a search of every bound port at bind time, which slows down with each connection.
            #if os(Linux)
            bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .ip, name: .init(rawValue: 24)), value: 1)
            #endif
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localAddress, port: 0))
        }
        let initialize: @Sendable (any Channel) -> EventLoopFuture<EventLoopFuture<Upgrade>> = { channel in
                // An edge that accepted the TCP connection but does not answer the upgrade (stopped, overloaded) would
                // hold the device forever: give up after the edge's own handshake limit, so it tries another edge.
                let deadline = channel.eventLoop.scheduleTask(in: upgradeTimeout) { channel.close(promise: nil) }
                return channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tlsContext, serverHostname: serverHostname))
                    }
                    let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(
                        maxFrameSize: 16 * 1024 * 1024,
                        upgradePipelineHandler: { channel, response in
                            deadline.cancel()
                            return channel.eventLoop.makeCompletedFuture {
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
                            deadline.cancel()
                            return channel.eventLoop.makeCompletedFuture {
                                channel.close(promise: nil)
                                return .refused(status: 0)
                            }
                        })
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: config))
                }
            }
        // An IP address is connected to directly: the resolver and happy-eyeballs path costs more than the rest of
        // a connect, which matters to a client opening thousands.
        let upgrade: EventLoopFuture<Upgrade>
        if let address {
            upgrade = try await bootstrap.connect(to: address, channelInitializer: initialize)
        } else {
            upgrade = try await bootstrap.connect(host: host, port: port, channelInitializer: initialize)
        }
        switch try await upgrade.get() {
        case .upgraded(let client): return client
        case .refused(let status): throw DeviceClient.Failure.notUpgraded(status: status)
        }
    }

    /// The name to send as SNI and verify: none for an IP address (NIOSSL refuses one as SNI and checks the
    /// certificate against the address connected to instead).
    private static func sniName(_ name: String) -> String? {
        (try? SocketAddress(ipAddress: name, port: 0)) == nil ? name : nil
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
