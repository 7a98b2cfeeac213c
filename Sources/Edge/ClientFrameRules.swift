import ChannelProtocol
import NIOCore
import NIOWebSocket

/// Enforces RFC 6455's rules for frames from a client, in front of the frame aggregator (which drops the mask and
/// reserved bits when it joins fragments): every frame masked (§5.1), no reserved bit set (§5.2, no extension is
/// negotiated), no reserved opcode (§5.2), and fragments in order (§5.4: a continuation only inside a message, no new
/// message before the last one finished); and the closing handshake (§5.5.1): once the edge sent a close, it sends
/// nothing more, and the device's answering close ends the connection.
///
/// Guarantees: the first frame that breaks a rule closes the connection with 1002 (protocol error) and nothing after
/// it reaches the handlers behind; nothing the device sends after the edge's close reaches them either, and nothing
/// written after that close leaves. Costs two Bools per connection.
final class ClientFrameRules: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// Whether a text or binary message has started and not finished.
    private var inMessage = false
    /// Whether the edge's close frame was written: the connection lingers until the device closes (EdgeContext.swift).
    private var closeSent = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if closeSent {
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        guard frame.maskKey != nil, !frame.rsv1, !frame.rsv2, !frame.rsv3, follows(frame) else {
            // Its close frame passes `write` below at once, so nothing after this frame gets through either.
            context.channel.sendAndClose(nil, code: .protocolError)
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closeSent else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        closeSent = unwrapOutboundIn(data).opcode == .connectionClose
        context.write(data, promise: promise)
    }

    /// Whether `frame` is a known opcode in its place in the message sequence, and records that place.
    private func follows(_ frame: WebSocketFrame) -> Bool {
        switch frame.opcode {
        case .text, .binary:
            guard !inMessage else { return false }
            inMessage = !frame.fin
            return true
        case .continuation:
            guard inMessage else { return false }
            inMessage = !frame.fin
            return true
        case .connectionClose, .ping, .pong:
            return true
        default:
            return false
        }
    }
}
