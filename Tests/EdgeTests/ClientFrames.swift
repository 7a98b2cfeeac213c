import NIOCore
import NIOEmbedded
import NIOWebSocket

/// Client frames for the frame-path tests: masked as RFC 6455 requires of a client unless asked otherwise.
enum ClientFrames {
    static let maskKey: WebSocketMaskingKey = [0x37, 0xfa, 0x21, 0x3d]

    /// One frame carrying `text` (its plain bytes; the encoder masks them on the wire).
    static func frame(_ opcode: WebSocketOpcode, fin: Bool = true, _ text: String = "", masked: Bool = true,
                      rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false) -> WebSocketFrame {
        WebSocketFrame(fin: fin, rsv1: rsv1, rsv2: rsv2, rsv3: rsv3, opcode: opcode, maskKey: masked ? maskKey : nil,
                       data: ByteBuffer(string: text))
    }

    /// The bytes a client puts on the wire for `frames`, written by NIO's encoder (which applies each frame's mask).
    static func wire(_ frames: [WebSocketFrame]) throws -> ByteBuffer {
        let encoder = EmbeddedChannel(handler: WebSocketFrameEncoder())
        var bytes = ByteBuffer()
        for frame in frames {
            try encoder.writeOutbound(frame)
            while var part = try encoder.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&part) }
        }
        _ = try encoder.finish()
        return bytes
    }
}
