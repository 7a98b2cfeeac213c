import NIOCore

/// Splits a hand-off connection's bytes into frames (``HandoffCodec``); a broken frame is thrown into the pipeline,
/// where the connection's handler answers with an error frame and closes.
public struct HandoffFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = HandoffFrame
    private let maxFrameBytes: Int

    public init(maxFrameBytes: Int = HandoffCodec.defaultMaxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try HandoffCodec.decode(&buffer, maxFrameBytes: maxFrameBytes) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Writes hand-off frames (``HandoffCodec``).
public struct HandoffFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = HandoffFrame

    public init() {}

    public func encode(data: HandoffFrame, out: inout ByteBuffer) throws {
        HandoffCodec.encode(data, into: &out)
    }
}
