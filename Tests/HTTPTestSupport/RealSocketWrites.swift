import NIOCore

/// Goes first in a test pipeline, where the socket would be: like a socket, it fails every write once the channel is
/// closed. The testing channels keep such writes, so a handler writing during teardown (NIO's HTTP error handler
/// answering the truncated request it finds at close) would look as if it had answered the client.
public final class RealSocketWrites: ChannelOutboundHandler {
    /// Never unwrapped: writes pass through as they are.
    public typealias OutboundIn = ByteBuffer

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard context.channel.isActive else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(data, promise: promise)
    }
}
