import ChannelProtocol
import NIOCore
import NIOEmbedded
import NIOWebSocket

/// The device's end of one in-process connection: writes WebSocket messages in, reads what the edge wrote, decoded.
struct DeviceLine: Sendable {
    let channel: NIOAsyncTestingChannel
    let encoding: FrameEncoding

    /// What the edge wrote to the device.
    enum Out: Equatable {
        case frame(Frame)
        /// A WebSocket close with its code.
        case close(UInt16)
        case ping, pong
        /// A data message that does not decode in the connection's encoding, or of the other kind.
        case undecodable
    }

    /// Writes `frame` as the device does: one WebSocket message of the connection's encoding.
    func send(_ frame: Frame) async throws {
        try await send(encoding.encode(frame), opcode: encoding.usesBinaryMessages ? .binary : .text)
    }

    func send(_ bytes: [UInt8], opcode: WebSocketOpcode) async throws {
        try await channel.writeInbound(WebSocketFrame(fin: true, opcode: opcode, data: channel.allocator.buffer(bytes: bytes)))
    }

    /// Writes raw bytes, as the socket would hand them to a pipeline built with `framing`.
    func send(raw bytes: [UInt8]) async throws {
        try await channel.writeInbound(channel.allocator.buffer(bytes: bytes))
    }

    /// Everything written so far and not read yet, in order.
    func written() async throws -> [Out] {
        await channel.testingEventLoop.run()
        var out: [Out] = []
        while let frame = try await channel.readOutbound(as: WebSocketFrame.self) { out.append(decode(frame)) }
        return out
    }

    /// Whether the edge closed the connection by itself, once the second it lingers after its close frame (waiting for
    /// the device to close first) has passed.
    func closedByEdge() async -> Bool {
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        return !channel.isActive
    }

    /// The next thing written, waiting for it (the hello's check runs as a task off the loop); then lets the loop
    /// finish what it was doing when it wrote.
    func next() async throws -> Out {
        let frame = try await channel.waitForOutboundWrite(as: WebSocketFrame.self)
        await channel.testingEventLoop.run()
        return decode(frame)
    }

    /// Whether the connection reads from the device: the last `autoRead` the connection set (the testing channel
    /// does not act on it; it only records it).
    var reading: Bool {
        channel.options.last { $0.option is ChannelOptions.Types.AutoReadOption }?.value as? Bool ?? true
    }

    private func decode(_ frame: WebSocketFrame) -> Out {
        var data = frame.data
        switch frame.opcode {
        case .connectionClose: return .close(data.readInteger(as: UInt16.self) ?? 0)
        case .ping: return .ping
        case .pong: return .pong
        case .text, .binary:
            guard (frame.opcode == .binary) == encoding.usesBinaryMessages,
                  let decoded = try? encoding.decode(Array(buffer: data)) else { return .undecodable }
            return .frame(decoded)
        default: return .undecodable
        }
    }
}
