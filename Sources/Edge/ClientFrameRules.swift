import ChannelProtocol
import NIOCore
import NIOWebSocket

/// Enforces RFC 6455's rules for frames from a client, in front of the frame aggregator (which drops the mask and
/// reserved bits when it joins fragments): every frame masked (§5.1), no reserved bit set (§5.2, no extension is
/// negotiated), no reserved opcode (§5.2), and fragments in order (§5.4: a continuation only inside a message, no new
/// message before the last one finished).
///
/// Guarantees: the first frame that breaks a rule closes the connection with 1002 (protocol error) and nothing after
/// it reaches the handlers behind. Costs one Bool per connection.
final class ClientFrameRules: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    /// Whether a text or binary message has started and not finished.
    private var inMessage = false
    private var broken = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !broken else { return }
        let frame = unwrapInboundIn(data)
        guard frame.maskKey != nil, !frame.rsv1, !frame.rsv2, !frame.rsv3, follows(frame) else {
            broken = true
            context.channel.sendAndClose(nil, code: .protocolError)
            return
        }
        context.fireChannelRead(data)
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
