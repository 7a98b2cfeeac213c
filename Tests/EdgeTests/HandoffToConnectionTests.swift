import ChannelProtocol
import Logging
import NIOCore
import NIOEmbedded
import Shared
import Testing
@testable import Edge

/// A router's notices through the edge's hand-off listener to a device's connection: each reaches the connection its
/// device and session name, and only that one (docs/handoff.md, "The flow").
@Suite(.timeLimit(.minutes(1))) struct HandoffToConnectionTests {
    @Test func aNoticeReachesItsSessionAndOneNamingAnotherSessionIsDroppedAndBothAreAcked() async throws {
        let edge = try await TestEdge()
        let (line, session) = try await edge.welcomed("d-1")
        let devices = edge.devices
        let handoff = try await NIOAsyncTestingChannel(loop: edge.loop) { channel in
            try channel.pipeline.syncOperations.addHandlers([
                ByteToMessageHandler(HandoffFrameDecoder(maxFrameBytes: 1 << 20)),
                MessageToByteHandler(HandoffFrameEncoder()),
                HandoffSession(edgeID: TestEdge.id, instance: "i-1", secret: "", devices: devices, drain: {},
                               logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })),
            ])
        }
        try await handoff.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7100)).get()
        // Were it not dropped, the first notice's entry would be written (it has the next seq) and the second skipped.
        var stale = entry(1)
        stale.id = "meant-for-another-connection"
        var bytes = handoff.allocator.buffer(capacity: 512)
        for frame: HandoffFrame in [
            .hello(version: HandoffFrame.version, edge: TestEdge.id, sender: "router", secret: ""),
            .notices(batch: 1, [.message(device: "d-1", session: "an-earlier-process", entry: stale)]),
            .notices(batch: 2, [.message(device: "d-1", session: session, entry: entry(1))]),
        ] { HandoffCodec.encode(frame, into: &bytes) }
        try await handoff.writeInbound(bytes)

        var answers: [HandoffFrame] = []
        while var buffer = try await handoff.readOutbound(as: ByteBuffer.self) {
            while let frame = try HandoffCodec.decode(&buffer) { answers.append(frame) }
        }
        #expect(answers == [.welcome(edge: TestEdge.id, instance: "i-1"), .ack(batch: 1), .ack(batch: 2)])
        #expect(try await line.written() == [.frame(.msg(Message(service: "echo", id: "m1", payload: .json(entry(1).payload))))])
        #expect(try await handoff.finish().isClean)
        #expect(try await edge.end(line).isClean)
    }
}
