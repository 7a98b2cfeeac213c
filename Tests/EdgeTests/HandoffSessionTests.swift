import Logging
import NIOCore
import NIOEmbedded
import Shared
import Testing
@testable import Edge

/// The edge's side of a hand-off connection, in-process: hellos are checked, batches acked, and broken input is
/// answered with an error frame and a closed connection.
@Suite struct HandoffSessionTests {
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(HandoffFrameDecoder(maxFrameBytes: 4096)),
            MessageToByteHandler(HandoffFrameEncoder()),
            HandoffSession(edgeID: "edge-1", instance: "inst-1", secret: "k", devices: ConnectedDevices(), drain: {},
                           logger: Logger(label: "test")),
        ])
        // Embedded channels start inactive; connected, a close by the session shows as inactive.
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7000)).wait()
        #expect(channel.isActive)
        return channel
    }

    func send(_ frames: [HandoffFrame], to channel: EmbeddedChannel) throws {
        var buffer = channel.allocator.buffer(capacity: 256)
        for frame in frames { HandoffCodec.encode(frame, into: &buffer) }
        try channel.writeInbound(buffer)
    }

    func written(_ channel: EmbeddedChannel) throws -> [HandoffFrame] {
        var frames: [HandoffFrame] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            while let frame = try HandoffCodec.decode(&buffer) { frames.append(frame) }
        }
        return frames
    }

    @Test func aHelloForThisEdgeIsWelcomedAndEveryBatchAcked() throws {
        let channel = try channel()
        let entry = MailboxEntry(seq: 5, id: "m", service: "echo", contentType: "application/json", expiresAtMs: .max, payload: [0x31])
        try send([.hello(version: HandoffFrame.version, edge: "edge-1", sender: "router", secret: "k"),
                  // Devices that are not here: dropped (their messages wait in the mailbox), still acked.
                  .notices(batch: 1, [.message(device: "nobody", session: "s", entry: entry)]),
                  .notices(batch: 2, [.close(device: "nobody", session: "s")])], to: channel)
        #expect(try written(channel) == [.welcome(edge: "edge-1", instance: "inst-1"), .ack(batch: 1), .ack(batch: 2)])
        #expect(channel.isActive)
    }

    @Test(arguments: [
        [HandoffFrame.hello(version: HandoffFrame.version, edge: "edge-2", sender: "router", secret: "k")],
        [.hello(version: 99, edge: "edge-1", sender: "router", secret: "k")],
        [.notices(batch: 1, [])],
        [.hello(version: HandoffFrame.version, edge: "edge-1", sender: "r", secret: "k"), .hello(version: HandoffFrame.version, edge: "edge-1", sender: "r", secret: "k")],
        [.ack(batch: 1)],
        [.hello(version: HandoffFrame.version, edge: "edge-1", sender: "r", secret: "wrong")],
        [.hello(version: HandoffFrame.version, edge: "edge-1", sender: "r", secret: "")],
    ])
    func aWrongOrEarlyFrameIsRefusedWithAnErrorAndAClose(frames: [HandoffFrame]) throws {
        let channel = try channel()
        try send(frames, to: channel)
        let answers = try written(channel)
        guard case .error? = answers.last else {
            Issue.record("no error frame: \(answers)")
            return
        }
        #expect(!channel.isActive)
    }

    @Test func secretsCompareWholly() {
        #expect(Secrets.same("abc", "abc") && Secrets.same("", ""))
        #expect(!Secrets.same("abc", "abd") && !Secrets.same("abc", "ab") && !Secrets.same("", "a"))
    }

    @Test(arguments: [
        [0, 0, 0, 1, 77] as [UInt8],                 // unknown frame type
        [0, 0, 0, 0],                                 // empty frame
        [0, 0, 0x20, 0],                              // over the 4096-byte limit
        [0, 0, 0, 3, 4, 0, 0],                        // an ack cut short
    ])
    func brokenBytesAreRefusedWithAnErrorAndAClose(bytes: [UInt8]) throws {
        let channel = try channel()
        try send([.hello(version: HandoffFrame.version, edge: "edge-1", sender: "router", secret: "k")], to: channel)
        _ = try written(channel)
        // The decoder throws into the pipeline; the session answers and closes instead of crashing.
        _ = try? channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        let answers = try written(channel)
        guard case .error? = answers.last else {
            Issue.record("no error frame: \(answers)")
            return
        }
        #expect(!channel.isActive)
    }
}
