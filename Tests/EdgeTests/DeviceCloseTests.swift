import ChannelProtocol
import NIOCore
import Shared
import Testing
@testable import Edge

/// A connection that ends while its delivery is under way: nothing more is written, nothing crashes, and what it
/// registered is released and announced.
@Suite(.timeLimit(.minutes(1))) struct DeviceCloseTests {
    enum Closer: String, CaseIterable { case edge, device }

    @Test(arguments: Closer.allCases)
    func aCloseDuringAMailboxReadWritesNothingAfterAndReleasesTheRoute(closer: Closer) async throws {
        let edge = try await TestEdge()
        let line = try await edge.connect()
        try await line.send(.hello(Hello(device: "d-1", token: edge.token(for: "d-1"))))
        guard case .frame(.welcome(let welcome)) = try await line.next() else {
            Issue.record("no welcome")
            return
        }
        let read = try #require(edge.mailbox.open.first)
        switch closer {
        case .edge:
            try await line.channel.close()
            #expect(try await line.written().isEmpty)
        case .device:
            try await line.send([0x03, 0xe8], opcode: .connectionClose)
            #expect(try await line.written() == [.close(1000)])
        }
        #expect(!line.channel.isActive)

        edge.mailbox.answer(read, [entry(1), entry(2)])
        #expect(try await line.written().isEmpty)
        #expect(edge.mailbox.reads.count == 1, "no read after the close")
        #expect(edge.devices.find("d-1") == nil)
        #expect(edge.routes.releases == [.init(device: "d-1", edge: "", session: welcome.session)])
        #expect(try edge.connectionEvents().map { "\($0.kind) \($0.epoch)" } == ["connect 1", "disconnect 1"])
        #expect(try await edge.end(line).isClean)
    }

    @Test func aCloseWhilePublishingDropsTheLateAck() async throws {
        let edge = try await TestEdge()
        let (line, _) = try await edge.welcomed("d-1")
        try await line.send(.msg(Message(service: "echo", id: "m-1", payload: .json([0x31]))))
        try await line.channel.close()
        edge.publisher.deliver(try #require(edge.publisher.records.firstIndex { $0.topic == "cg.up.echo" }))
        #expect(try await line.written().isEmpty)
        #expect(try await edge.end(line).isClean)
    }

    /// The mailbox read removes the expired entries it finds and hands them back to be reported (Mailbox.read).
    @Test func expiredEntriesOfAReadThatReturnsAfterTheCloseAreStillReported() async throws {
        let edge = try await TestEdge()
        let line = try await edge.connect()
        try await line.send(.hello(Hello(device: "d-1", token: edge.token(for: "d-1"))))
        _ = try await line.next()
        let read = try #require(edge.mailbox.open.first)
        try await line.channel.close()
        let gone = entry(1, expiresAtMs: 1_000)
        edge.mailbox.answer(read, [], expired: [gone])
        await edge.loop.run()
        // The read already removed them from the mailbox: a report is their only trace.
        #expect(edge.publisher.records(on: "cg.report.echo").count == 1)
        #expect(try await edge.end(line).isClean)
    }
}
