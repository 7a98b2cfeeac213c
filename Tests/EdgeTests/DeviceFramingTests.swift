import ChannelProtocol
import NIOCore
import Shared
import Testing
@testable import Edge

/// What reaches a device connection as WebSocket bytes and messages: frames split anywhere, messages of the wrong
/// kind for the connection's encoding, and too many messages.
@Suite(.timeLimit(.minutes(1))) struct DeviceFramingTests {
    /// One masked client frame (RFC 6455 §5.2), as a device's socket sends it.
    func clientFrame(_ payload: [UInt8], opcode: UInt8 = 0x1, fin: Bool = true) -> [UInt8] {
        let mask: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else {
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        }
        return bytes + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    @Test func framesSplitAtEveryByteAreReadWholeAndOnce() async throws {
        let edge = try await TestEdge()
        let line = try await edge.connect(framing: true)
        let hello = clientFrame(FrameEncoding.json.encode(.hello(Hello(device: "d-1", token: try await edge.token(for: "d-1")))))
        for byte in hello { try await line.send(raw: [byte]) }
        guard case .frame(.welcome) = try await line.next() else {
            Issue.record("no welcome")
            return
        }
        #expect(edge.routes.claims.count == 1)
        edge.mailbox.answer(0, [])

        // A message in two fragments, every byte on its own: published once, whole, only after its last byte.
        let message = FrameEncoding.json.encode(.msg(Message(service: "echo", id: "m-1", payload: .json(Array(#"{"n":12345}"#.utf8)))))
        let cut = message.count / 2
        let bytes = clientFrame(Array(message[..<cut]), fin: false) + clientFrame(Array(message[cut...]), opcode: 0x0)
        for (index, byte) in bytes.enumerated() {
            try await line.send(raw: [byte])
            if index < bytes.count - 1 {
                #expect(edge.publisher.records(on: "cg.up.echo").isEmpty, "published after byte \(index)")
            }
        }
        let published = edge.publisher.records(on: "cg.up.echo")
        #expect(published.count == 1)
        #expect(published.first?.value == Array(#"{"n":12345}"#.utf8))
        #expect(try await line.written().isEmpty, "nothing is acked before the broker has it")
        #expect(try await edge.end(line).isClean)
    }

    @Test func aTextMessageOnABinaryConnectionIsABadFrameError() async throws {
        let edge = try await TestEdge()
        let (line, _) = try await edge.welcomed("d-1", encoding: .binary)
        try await line.send(FrameEncoding.json.encode(.ack(id: "m1")), opcode: .text)
        guard case .frame(.error(let error)) = try await line.written().first else {
            Issue.record("no error frame")
            return
        }
        #expect(error.code == .badFrame)
        #expect(line.channel.isActive, "a bad frame after the hello is answered, not closed")
        #expect(edge.acks.acks.isEmpty)
        #expect(try await edge.end(line).isClean)
    }

    @Test func aBinaryMessageOnAJSONConnectionBeforeTheHelloIsClose4002() async throws {
        let edge = try await TestEdge()
        let line = try await edge.connect(encoding: .json)
        try await line.send(FrameEncoding.binary.encode(.hello(Hello(device: "d-1", token: try await edge.token(for: "d-1")))), opcode: .binary)
        let written = try await line.written()
        guard case .frame(.error(let error))? = written.first else {
            Issue.record("no error frame: \(written)")
            return
        }
        #expect(error.code == .badFrame)
        #expect(written.dropFirst() == [.close(CloseCode.protocolViolation.rawValue)])
        #expect(edge.routes.claims.isEmpty)
        #expect(try await edge.end(line).isClean)
    }

    @Test func messagesPastTheRateAndBurstAreClose4003() async throws {
        // A rate so low that no token comes back during the test: the burst is all there is.
        let edge = try await TestEdge { $0.limits.messagesPerSecond = 0.001; $0.limits.messageBurst = 4 }
        let (line, _) = try await edge.welcomed("d-1")  // the hello took one
        for _ in 0..<3 { try await line.send([], opcode: .ping) }
        #expect(try await line.written() == [.pong, .pong, .pong])
        try await line.send(FrameEncoding.json.encode(.msg(Message(service: "echo", id: "m-1", payload: .json([0x31])))), opcode: .text)
        #expect(try await line.written() == [.close(CloseCode.tooFast.rawValue)])
        #expect(await line.closedByEdge())
        #expect(edge.publisher.records(on: "cg.up.echo").isEmpty)
        #expect(try await edge.end(line).isClean)
    }
}
