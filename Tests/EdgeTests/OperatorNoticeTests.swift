import ChannelProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Shared
import Testing
@testable import Edge

/// Operators' controls through the edge's hand-off listener (docs/handoff.md, "Operators' controls"): a `disconnect`
/// notice closes only the session it names, with its code and after a `reconnect` frame when it has a delay, and the
/// edge names what it closed before the ack; a `drain` frame starts the drain once per frame, acked.
@Suite(.timeLimit(.minutes(1))) struct OperatorNoticeTests {
    /// A hand-off connection to `edge`'s devices, connected; `drained` counts the drain requests it makes.
    func connection(_ edge: TestEdge, secret: String = "", drained: NIOLockedValueBox<Int>) async throws -> NIOAsyncTestingChannel {
        let devices = edge.devices
        let channel = try await NIOAsyncTestingChannel(loop: edge.loop) { channel in
            try channel.pipeline.syncOperations.addHandlers([
                ByteToMessageHandler(HandoffFrameDecoder(maxFrameBytes: 1 << 20)),
                MessageToByteHandler(HandoffFrameEncoder()),
                HandoffSession(edgeID: TestEdge.id, instance: "i-1", secret: secret, devices: devices,
                               drain: { drained.withLockedValue { $0 += 1 } },
                               logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })),
            ])
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7100)).get()
        return channel
    }

    /// ``connection(_:secret:drained:)``, said hello to.
    func listener(_ edge: TestEdge, drained: NIOLockedValueBox<Int> = .init(0)) async throws -> NIOAsyncTestingChannel {
        let channel = try await connection(edge, drained: drained)
        try await send([.hello(version: HandoffFrame.version, edge: TestEdge.id, sender: "api", secret: "")], to: channel)
        #expect(try await answers(channel) == [.welcome(edge: TestEdge.id, instance: "i-1")])
        return channel
    }

    func send(_ frames: [HandoffFrame], to channel: NIOAsyncTestingChannel) async throws {
        var bytes = channel.allocator.buffer(capacity: 256)
        for frame in frames { HandoffCodec.encode(frame, into: &bytes) }
        try await channel.writeInbound(bytes)
    }

    func answers(_ channel: NIOAsyncTestingChannel) async throws -> [HandoffFrame] {
        var frames: [HandoffFrame] = []
        while var buffer = try await channel.readOutbound(as: ByteBuffer.self) {
            while let frame = try HandoffCodec.decode(&buffer) { frames.append(frame) }
        }
        return frames
    }

    @Test func aDisconnectClosesItsSessionWithTheCodeAfterAReconnectFrame() async throws {
        let edge = try await TestEdge()
        let (line, session) = try await edge.welcomed("d-1")
        let (other, _) = try await edge.welcomed("d-2")
        let handoff = try await listener(edge)
        try await send([.notices(batch: 5, [.disconnect(device: "d-1", session: session, code: 4321, reconnectAfterMs: 1500)])],
                       to: handoff)
        #expect(try await answers(handoff) == [.closed(batch: 5, sessions: [session]), .ack(batch: 5)])
        #expect(try await line.written() == [.frame(.reconnect(delayMs: 1500)), .close(4321)])
        #expect(try await other.written().isEmpty)
        _ = try await handoff.finish()
    }

    @Test func withoutADelayOnlyTheCloseIsSent() async throws {
        let edge = try await TestEdge()
        let (line, session) = try await edge.welcomed("d-1")
        let handoff = try await listener(edge)
        try await send([.notices(batch: 1, [.disconnect(device: "d-1", session: session, code: 4010, reconnectAfterMs: nil)])],
                       to: handoff)
        #expect(try await answers(handoff) == [.closed(batch: 1, sessions: [session]), .ack(batch: 1)])
        #expect(try await line.written() == [.close(4010)])
        _ = try await handoff.finish()
    }

    @Test func aDisconnectNamingAnotherSessionOrAnAbsentDeviceClosesNothing() async throws {
        let edge = try await TestEdge()
        let (line, _) = try await edge.welcomed("d-1")
        let handoff = try await listener(edge)
        try await send([.notices(batch: 2, [
            .disconnect(device: "d-1", session: "a-replaced-session", code: 4010, reconnectAfterMs: 0),
            .disconnect(device: "nobody", session: "s", code: 4010, reconnectAfterMs: nil),
        ])], to: handoff)
        #expect(try await answers(handoff) == [.closed(batch: 2, sessions: []), .ack(batch: 2)])
        #expect(try await line.written().isEmpty)
        #expect(edge.devices.find("d-1") != nil)
        // Batches without a disconnect get no closed frame.
        try await send([.notices(batch: 3, [.close(device: "nobody", session: "s")])], to: handoff)
        #expect(try await answers(handoff) == [.ack(batch: 3)])
        #expect(try await edge.end(line).isClean)
        _ = try await handoff.finish()
    }

    @Test func aDrainFrameStartsTheDrainAndIsAcked() async throws {
        let edge = try await TestEdge()
        let drained = NIOLockedValueBox(0)
        let handoff = try await listener(edge, drained: drained)
        try await send([.drain(batch: 9)], to: handoff)
        #expect(try await answers(handoff) == [.ack(batch: 9)])
        #expect(drained.withLockedValue { $0 } == 1)
        _ = try await handoff.finish()
    }

    @Test func aDrainBeforeTheHelloIsRefused() async throws {
        let edge = try await TestEdge()
        let drained = NIOLockedValueBox(0)
        let channel = try await connection(edge, secret: "k", drained: drained)
        try await send([.drain(batch: 1)], to: channel)
        guard case .error? = try await answers(channel).last else {
            Issue.record("no error frame")
            return
        }
        #expect(drained.withLockedValue { $0 } == 0)
    }
}
