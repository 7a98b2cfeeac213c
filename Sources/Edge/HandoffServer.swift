import Logging
import NIOCore
import NIOPosix
import Shared

/// The edge's hand-off listener: routers and other edges connect here to hand it notices (``HandoffSession``).
enum HandoffServer {
    /// Binds on the edge's event loops; the returned channel's local address has the port (when asked for port 0).
    static func bind(host: String, port: Int, group: any EventLoopGroup, edgeID: String, instance: String,
                     secret: String, devices: ConnectedDevices, drain: @escaping @Sendable () -> Void,
                     logger: Logger) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(HandoffFrameDecoder()),
                        MessageToByteHandler(HandoffFrameEncoder()),
                        HandoffSession(edgeID: edgeID, instance: instance, secret: secret, devices: devices,
                                       drain: drain, logger: logger),
                    ])
                }
            }
            .bind(host: host, port: port).get()
    }
}
