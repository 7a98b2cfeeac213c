import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import Edge

/// ``ClientFrameRules`` in-process, frame by frame: each RFC 6455 client rule it enforces closes the connection with
/// 1002 and lets nothing from the offending frame on through; valid fragmented messages with control frames between
/// their fragments pass unchanged.
@Suite struct ClientFrameRulesTests {
    /// A broken rule: the valid frames a device sends first, then the frame that breaks it.
    enum Breach: CaseIterable, Sendable, CustomTestStringConvertible {
        case unmasked, reservedBit1, reservedBit2, reservedBit3, reservedDataOpcode, reservedControlOpcode
        case continuationOutsideMessage, continuationAfterMessageEnded, textInsideFragmentedMessage
        case binaryInsideFragmentedMessage

        var before: [WebSocketFrame] {
            switch self {
            case .unmasked, .reservedBit1, .reservedBit2, .reservedBit3, .reservedDataOpcode, .reservedControlOpcode,
                 .continuationOutsideMessage:
                return [ClientFrames.frame(.text, "fine")]
            case .continuationAfterMessageEnded:
                return [ClientFrames.frame(.text, fin: false, "one "), ClientFrames.frame(.continuation, "message")]
            case .textInsideFragmentedMessage, .binaryInsideFragmentedMessage:
                return [ClientFrames.frame(.binary, fin: false, "first half")]
            }
        }

        var breaking: WebSocketFrame {
            switch self {
            case .unmasked: return ClientFrames.frame(.text, "bare", masked: false)
            case .reservedBit1: return ClientFrames.frame(.text, "x", rsv1: true)
            case .reservedBit2: return ClientFrames.frame(.binary, "x", rsv2: true)
            case .reservedBit3: return ClientFrames.frame(.ping, rsv3: true)
            case .reservedDataOpcode: return ClientFrames.frame(WebSocketOpcode(encodedWebSocketOpcode: 0x3)!, "x")
            case .reservedControlOpcode: return ClientFrames.frame(WebSocketOpcode(encodedWebSocketOpcode: 0xB)!)
            case .continuationOutsideMessage, .continuationAfterMessageEnded:
                return ClientFrames.frame(.continuation, "stray")
            case .textInsideFragmentedMessage: return ClientFrames.frame(.text, "new")
            case .binaryInsideFragmentedMessage: return ClientFrames.frame(.binary, fin: false, "new")
            }
        }

        var testDescription: String { "\(self)" }
    }

    /// A socket that has sent nothing yet: writes wait here until ``send()``. The rule's close waits for its close
    /// frame to be written, so while it waits the device's next frames still reach the rule, as on a real socket.
    final class UnsentWrites: ChannelOutboundHandler {
        typealias OutboundIn = WebSocketFrame
        private var context: ChannelHandlerContext?
        private var held: [(NIOAny, EventLoopPromise<Void>?)] = []

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            held.append((data, promise))
        }

        func flush(context: ChannelHandlerContext) {}

        /// Lets every held write out, as a socket whose peer finally reads.
        func send() {
            guard let context else { return }
            let writes = held
            held = []
            for (data, promise) in writes { context.write(data, promise: promise) }
            context.flush()
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            let writes = held
            held = []
            for (_, promise) in writes { promise?.fail(ChannelError.ioOnClosedChannel) }
            context.close(mode: mode, promise: promise)
        }
    }

    func connected(_ handlers: [any ChannelHandler]) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(handlers)
        // Embedded channels start inactive; connected, a close by the rule shows as inactive.
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7000)).wait()
        return channel
    }

    func passed(_ channel: EmbeddedChannel) throws -> [WebSocketFrame] {
        var frames: [WebSocketFrame] = []
        while let frame = try channel.readInbound(as: WebSocketFrame.self) { frames.append(frame) }
        return frames
    }

    @Test(arguments: Breach.allCases)
    func aBrokenRuleClosesWith1002AndStopsTheFrames(_ breach: Breach) throws {
        let socket = UnsentWrites()
        let channel = try connected([socket, ClientFrameRules()])
        for frame in breach.before + [breach.breaking] { try channel.writeInbound(frame) }
        // Frames that were valid on their own, sent before the close frame left: none may reach the handlers behind.
        try channel.writeInbound(ClientFrames.frame(.text, "after"))
        try channel.writeInbound(ClientFrames.frame(.ping))
        #expect(try passed(channel) == breach.before)
        #expect(channel.isActive, "the close waits for the close frame to be written")

        socket.send()
        let close = try channel.readOutbound(as: WebSocketFrame.self)
        #expect(close?.opcode == .connectionClose)
        var closeData = close?.data
        #expect(closeData?.readWebSocketErrorCode() == .protocolError)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        #expect(channel.isActive, "waiting a second for the device to close first")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    /// RFC 6455 §5.5.1: after its close the edge sends nothing; what the device still sends is dropped, and its close
    /// ends the connection at once. A socket closed with unread input resets, and the reset would discard the close
    /// frame before a still-sending device read it.
    @Test func afterTheEdgesCloseOnlyTheDevicesCloseCounts() throws {
        let channel = try connected([ClientFrameRules()])
        channel.sendAndClose(nil, code: .tooFast)
        let close = try channel.readOutbound(as: WebSocketFrame.self)
        #expect(close?.opcode == .connectionClose)
        channel.writeAndFlush(ClientFrames.frame(.text, "late"), promise: nil)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "nothing leaves after the close")
        for _ in 0..<100 { try channel.writeInbound(ClientFrames.frame(.text, "flood")) }
        try channel.writeInbound(ClientFrames.frame(.ping))
        #expect(try passed(channel).isEmpty)
        #expect(channel.isActive)
        try channel.writeInbound(ClientFrames.frame(.connectionClose))
        #expect(!channel.isActive, "the device's close ends it without waiting")
        #expect(try passed(channel).isEmpty)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func aDeviceThatNeverReadsTheCloseFrameIsClosedAfterFiveSeconds() throws {
        let socket = UnsentWrites()
        let channel = try connected([socket, ClientFrameRules()])
        try channel.writeInbound(ClientFrames.frame(.text, "bare", masked: false))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(4_999))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive)
        #expect(try passed(channel).isEmpty)
        #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
    }

    @Test func fragmentedMessagesWithControlFramesBetweenPassUnchanged() throws {
        let channel = try connected([ClientFrameRules()])
        let frames = [
            ClientFrames.frame(.text, fin: false, "Hel"),
            ClientFrames.frame(.ping, "p1"),
            ClientFrames.frame(.continuation, fin: false, "lo, "),
            ClientFrames.frame(.pong, "p2"),
            ClientFrames.frame(.continuation, "world"),
            ClientFrames.frame(.binary, "whole"),
            ClientFrames.frame(.binary, fin: false, "two "),
            ClientFrames.frame(.continuation, "parts"),
            ClientFrames.frame(.connectionClose),
        ]
        for frame in frames { try channel.writeInbound(frame) }
        #expect(try passed(channel) == frames)
        #expect(channel.isActive)
        #expect(try channel.finish().isClean, "nothing written: no close")
    }
}
