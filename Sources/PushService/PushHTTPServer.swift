import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP/1.1 listener of the push API: NIO's server pipeline (with pipelining assistance and protocol-error
/// answers) in front of one ``PushHTTPHandler`` per connection.
final class PushHTTPServer: Sendable {
    private let channel: any Channel
    /// The port it listens on (useful when asked for port 0).
    let port: Int

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    static func start(host: String, port: Int, config: PushHTTPConfig, endpoint: PushEndpoint, metrics: PushMetrics,
                      admin: RevocationAdmin? = nil,
                      group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> PushHTTPServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(PushHTTPHandler(config: config, endpoint: endpoint, metrics: metrics, admin: admin))
                }
            }
            .bind(host: host, port: port)
            .get()
        return PushHTTPServer(channel: channel, port: channel.localAddress?.port ?? port)
    }

    /// Stops accepting connections; connections already open finish on their own.
    func close() async {
        try? await channel.close()
    }
}
