import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import Edge

/// The edge's frame path from bytes, as `EdgeServer` builds it after the upgrade: NIO's frame decoder,
/// ``ClientFrameRules`` and the aggregator, fed one masked client stream cut at every byte boundary. Wherever TCP
/// splits the stream, the same messages come out and the rules close nothing.
@Suite struct SplitFrameStreamTests {
    /// One message as the handlers behind the aggregator see it.
    struct Message: Equatable, CustomStringConvertible {
        var opcode: WebSocketOpcode
        var text: String
        var description: String { "\(opcode) \(text.utf8.count) bytes" }
    }

    /// Fragments with control frames between them, an empty fragment, payloads with a 16-bit length (over 125
    /// bytes), multi-byte UTF-8 (cut inside a character too) and a close.
    static let long = String(repeating: "0123456789", count: 30)
    static let sent = [
        ClientFrames.frame(.text, fin: false, "Hello, "),
        ClientFrames.frame(.ping, "are you there"),
        ClientFrames.frame(.continuation, fin: false, "fragmented "),
        ClientFrames.frame(.continuation, "world"),
        ClientFrames.frame(.binary, long),
        ClientFrames.frame(.binary, fin: false, ""),
        ClientFrames.frame(.pong),
        ClientFrames.frame(.continuation, long),
        ClientFrames.frame(.text, "é ü 🙂"),
        ClientFrames.frame(.connectionClose),
    ]
    /// Control frames are not held back with the fragments around them: they come out first.
    static let expected = [
        Message(opcode: .ping, text: "are you there"),
        Message(opcode: .text, text: "Hello, fragmented world"),
        Message(opcode: .binary, text: long),
        Message(opcode: .pong, text: ""),
        Message(opcode: .binary, text: long),
        Message(opcode: .text, text: "é ü 🙂"),
        Message(opcode: .connectionClose, text: ""),
    ]

    func framePath() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 14)),
            ClientFrameRules(),
            NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64,
                                        maxAccumulatedFrameSize: 1 << 14),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7000)).wait()
        return channel
    }

    func received(_ channel: EmbeddedChannel) throws -> [Message] {
        var messages: [Message] = []
        while let frame = try channel.readInbound(as: WebSocketFrame.self) {
            messages.append(Message(opcode: frame.opcode, text: String(buffer: frame.unmaskedData)))
        }
        return messages
    }

    @Test func theWholeStreamInOneReadGivesTheMessages() throws {
        let channel = try framePath()
        try channel.writeInbound(try ClientFrames.wire(Self.sent))
        #expect(try received(channel) == Self.expected)
        #expect(try channel.finish().isClean)
    }

    @Test func aCutAtEveryByteGivesTheSameMessages() throws {
        let stream = try ClientFrames.wire(Self.sent)
        for cut in 1..<stream.readableBytes {
            let channel = try framePath()
            try channel.writeInbound(stream.getSlice(at: 0, length: cut)!)
            try channel.writeInbound(stream.getSlice(at: cut, length: stream.readableBytes - cut)!)
            let messages = try received(channel)
            #expect(messages == Self.expected, "cut after byte \(cut)")
            #expect(try channel.finish().isClean, "cut after byte \(cut)")
            if messages != Self.expected { break }  // one failing cut says enough; the rest would repeat it
        }
    }

    @Test func oneByteAtATimeGivesTheSameMessages() throws {
        let stream = try ClientFrames.wire(Self.sent)
        let channel = try framePath()
        for offset in 0..<stream.readableBytes {
            try channel.writeInbound(stream.getSlice(at: offset, length: 1)!)
        }
        #expect(try received(channel) == Self.expected)
        #expect(try channel.finish().isClean)
    }
}
