import ChannelProtocol
import Foundation
import Shared
import Testing
@testable import Edge

/// Service → device through one connection: notices written at once when they are next, gaps read from the mailbox,
/// the window held until the device acks, and expired entries reported (docs/guarantees.md, "Service → device").
@Suite(.timeLimit(.minutes(1))) struct DeviceDeliveryTests {
    func delivered(_ entries: [MailboxEntry]) -> [DeviceLine.Out] {
        entries.map { .frame(.msg(Message(service: $0.service, id: $0.id, payload: .json($0.payload)))) }
    }

    @Test func aNoticeWithTheNextSeqIsWrittenAtOnce() async throws {
        let edge = try await TestEdge()
        let (line, _) = try await edge.welcomed("d-1")
        try await edge.notice(entry(1), to: "d-1")
        #expect(try await line.written() == delivered([entry(1)]))
        #expect(edge.mailbox.reads.count == 1, "only the hello's read")
        #expect(try await edge.end(line).isClean)
    }

    @Test func aGapIsReadFromTheMailboxAndWrittenInOrder() async throws {
        let edge = try await TestEdge()
        let (line, _) = try await edge.welcomed("d-1")
        try await edge.notice(entry(3), to: "d-1")
        #expect(try await line.written().isEmpty)
        let read = try #require(edge.mailbox.open.first)
        #expect(edge.mailbox.reads[read].after == 0 && edge.mailbox.reads[read].limit == 32)
        edge.mailbox.answer(read, [entry(1), entry(2), entry(3)])
        #expect(try await line.written() == delivered([entry(1), entry(2), entry(3)]))
        // A late notice of what was read is skipped.
        try await edge.notice(entry(2), to: "d-1")
        #expect(try await line.written().isEmpty)
        #expect(try await edge.end(line).isClean)
    }

    @Test func theWindowHoldsTheRestUntilTheDeviceAcks() async throws {
        let edge = try await TestEdge { $0.deliveryWindow = 2 }
        let (line, _) = try await edge.welcomed("d-1", mailbox: [entry(1), entry(2)])
        #expect(try await line.written() == delivered([entry(1), entry(2)]))
        #expect(edge.mailbox.open.isEmpty, "a full window reads nothing more")
        try await edge.notice(entry(3), to: "d-1")
        #expect(try await line.written().isEmpty)

        try await line.send(.ack(id: "m1"))
        #expect(edge.acks.acks == [.init(device: "d-1", id: "m1")])
        let read = try #require(edge.mailbox.open.first)
        #expect(edge.mailbox.reads[read].after == 2 && edge.mailbox.reads[read].limit == 1)
        edge.mailbox.answer(read, [entry(3)])
        #expect(try await line.written() == delivered([entry(3)]))
        #expect(try await edge.end(line).isClean)
    }

    @Test func expiredEntriesOfAReadAreReportedToTheirService() async throws {
        let edge = try await TestEdge()
        let line = try await edge.connect()
        try await line.send(.hello(Hello(device: "d-1", token: edge.token(for: "d-1"))))
        _ = try await line.next()
        let gone = entry(1, expiresAtMs: 1_000)
        edge.mailbox.answer(0, [entry(2)], expired: [gone])
        #expect(try await line.written() == delivered([entry(2)]))
        let reports = edge.publisher.records(on: "cg.report.echo").map { ReportRecord(record: consumed($0)) }
        #expect(reports == [ReportRecord(device: "d-1", entry: gone, reason: .expired)])
        #expect(try await edge.end(line).isClean)
    }

    @Test func aFailedReadIsTriedAgainASecondLater() async throws {
        let edge = try await TestEdge()
        let line = try await edge.connect()
        try await line.send(.hello(Hello(device: "d-1", token: edge.token(for: "d-1"))))
        _ = try await line.next()
        edge.mailbox.fail(0)
        await edge.loop.run()
        #expect(edge.mailbox.reads.count == 1)
        await edge.loop.advanceTime(by: .seconds(1))
        #expect(edge.mailbox.reads.count == 2)
        edge.mailbox.answer(1, [entry(1)])
        #expect(try await line.written() == delivered([entry(1)]))
        #expect(try await edge.end(line).isClean)
    }
}
