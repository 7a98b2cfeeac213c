import Logging
import NIOCore
import Shared

/// One sender's hand-off connection to this edge (a router, an edge closing a replaced connection, or an operator's
/// control): checks the hello, hands each notice to the connection it names, and acks every batch once all of its
/// notices are on their connections' event loops (docs/handoff.md). A batch holding `disconnect` notices is first
/// answered with a `closed` frame naming the sessions among them that were here; a `drain` frame starts the edge's
/// drain (`drain`, the same as SIGTERM) and is acked once it has started.
///
/// A notice whose device is not here, or is here under another session (it reconnected, or the notice was meant for
/// an earlier process of this edge id), is dropped: its message waits in the mailbox, which the device reads when it
/// (re)connects. A broken frame, a hello for another edge or a notice before the hello is answered with an error
/// frame and the connection is closed; nothing else is affected. With a secret configured, a hello without it is
/// refused the same way (compared in constant time).
final class HandoffSession: ChannelInboundHandler {
    typealias InboundIn = HandoffFrame
    typealias OutboundOut = HandoffFrame

    private let edgeID: String
    private let instance: String
    private let secret: String
    private let devices: ConnectedDevices
    private let drain: @Sendable () -> Void
    private let logger: Logger
    private var sender: String?

    /// - Parameter drain: starts the edge's drain, the same as SIGTERM; called for each `drain` frame (a second call
    ///   while draining changes nothing).
    init(edgeID: String, instance: String, secret: String, devices: ConnectedDevices,
         drain: @escaping @Sendable () -> Void, logger: Logger) {
        self.edgeID = edgeID
        self.instance = instance
        self.secret = secret
        self.devices = devices
        self.drain = drain
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .hello(let version, let edge, let from, let offered):
            guard sender == nil else { return refuse("a second hello", context: context) }
            guard Secrets.same(offered, secret) else { return refuse("wrong hand-off secret", context: context) }
            guard version == HandoffFrame.version else {
                return refuse("hand-off version \(version) is not spoken here (\(HandoffFrame.version) is)", context: context)
            }
            guard edge == edgeID else { return refuse("this is edge \(edgeID), not \(edge)", context: context) }
            sender = from
            context.writeAndFlush(wrapOutboundOut(.welcome(edge: edgeID, instance: instance)), promise: nil)
        case .notices(let batch, let notices):
            guard sender != nil else { return refuse("notices before a hello", context: context) }
            let closed = hand(notices, on: context.eventLoop)
            if notices.contains(where: { if case .disconnect = $0 { true } else { false } }) {
                context.write(wrapOutboundOut(.closed(batch: batch, sessions: closed)), promise: nil)
            }
            context.write(wrapOutboundOut(.ack(batch: batch)), promise: nil)
        case .drain(let batch):
            guard let sender else { return refuse("drain before a hello", context: context) }
            logger.notice("draining: asked by \(sender) over the hand-off listener")
            drain()
            context.write(wrapOutboundOut(.ack(batch: batch)), promise: nil)
        case .error(let message):
            logger.warning("hand-off from \(sender ?? "a sender before its hello"): \(message)")
            context.close(promise: nil)
        case .welcome, .ack, .closed:
            refuse("a frame only edges send", context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HandoffError {
            refuse(error.description, context: context)
        } else {
            logger.debug("hand-off connection from \(sender ?? "?"): \(error)")
            context.close(promise: nil)
        }
    }

    /// Hands each notice to its connection: on this event loop at once, on another loop in one hop per loop for the
    /// whole batch (not one per notice), in batch order per connection either way. Returns the sessions of the
    /// `disconnect` notices whose connection is here: each closes once its loop runs the notice.
    private func hand(_ notices: [HandoffNotice], on here: any EventLoop) -> [String] {
        var elsewhere: [ObjectIdentifier: (loop: any EventLoop, work: [(ConnectedDevices.Connection, HandoffNotice)])] = [:]
        var closed: [String] = []
        for notice in notices {
            guard let connection = devices.find(notice.device), connection.session == notice.session else { continue }
            if case .disconnect = notice { closed.append(notice.session) }
            let loop = connection.channel.eventLoop
            if loop === here {
                Self.apply(notice, to: connection)
            } else {
                elsewhere[ObjectIdentifier(loop), default: (loop, [])].work.append((connection, notice))
            }
        }
        for (_, batch) in elsewhere {
            let work = batch.work
            batch.loop.execute { for (connection, notice) in work { Self.apply(notice, to: connection) } }
        }
        return closed
    }

    /// On the connection's event loop.
    private static func apply(_ notice: HandoffNotice, to connection: ConnectedDevices.Connection) {
        switch notice {
        case .message(_, _, let entry): connection.handler.value.notice(entry)
        case .close(_, let session): connection.handler.value.replaced(session: session)
        case .disconnect(_, let session, let code, let delay):
            connection.handler.value.disconnect(session: session, code: code, reconnectAfterMs: delay)
        }
    }

    private func refuse(_ why: String, context: ChannelHandlerContext) {
        logger.warning("hand-off connection from \(sender ?? "a sender before its hello") refused: \(why)")
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.error(why))).whenComplete { _ in channel.close(promise: nil) }
    }
}
