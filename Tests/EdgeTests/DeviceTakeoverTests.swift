import ChannelProtocol
import NIOCore
import Shared
import Testing
@testable import Edge

/// Takeovers (docs/guarantees.md, "Takeover"): the newer claim wins wherever the older connection is, and a takeover
/// that lands while the device is acking leaves nothing half done.
@Suite(.timeLimit(.minutes(1))) struct DeviceTakeoverTests {
    @Test func aTakeoverRacingAnAckClosesWith4004AndWritesNothingMore() async throws {
        let edge = try await TestEdge { $0.deliveryWindow = 1 }
        let (line, session) = try await edge.welcomed("d-1", mailbox: [entry(1)])
        #expect(try await line.written().count == 1)
        try await edge.notice(entry(2), to: "d-1")  // waits: the window is full

        // The ack frees the window and starts a read; the close notice lands before the read returns.
        try await line.send(.ack(id: "m1"))
        let read = try #require(edge.mailbox.open.first)
        try await edge.closeNotice("d-1", session: session)
        #expect(try await line.written() == [.close(CloseCode.replaced.rawValue)])
        #expect(await line.closedByEdge())

        edge.mailbox.answer(read, [entry(2)])
        #expect(try await line.written().isEmpty, "m2 stays in the mailbox for the newer connection")
        #expect(edge.acks.acks == [.init(device: "d-1", id: "m1")], "the ack still deletes m1")
        #expect(edge.routes.releases.map(\.session) == [session])
        #expect(try await edge.end(line).isClean)
    }

    @Test func aCloseNoticeForAnEarlierSessionIsIgnored() async throws {
        let edge = try await TestEdge()
        let (line, _) = try await edge.welcomed("d-1")
        try await edge.closeNotice("d-1", session: "an-earlier-one")
        #expect(try await line.written().isEmpty)
        #expect(line.channel.isActive)
        #expect(try await edge.end(line).isClean)
    }

    /// Two connections of one device on this edge, whose claims finish here in either order: the one with the higher
    /// epoch (the later claim in Redis) stays, the other is closed with 4004.
    @Test(arguments: [[Int64(1), 2], [2, 1]])
    func ofTwoConnectionsOfADeviceTheHigherEpochStays(epochs: [Int64]) async throws {
        let edge = try await TestEdge()
        edge.routes.nextEpochs(epochs)
        let (first, firstSession) = try await edge.welcomed("d-1")
        let second = try await edge.connect()
        try await second.send(.hello(Hello(device: "d-1", token: edge.token(for: "d-1"))))
        let secondAnswer = try await second.next()

        let (survivor, loser) = epochs[1] > epochs[0] ? (second, first) : (first, second)
        let survivorSession = epochs[1] > epochs[0] ? edge.routes.claims[1].session : firstSession
        #expect(edge.devices.find("d-1")?.session == survivorSession)
        #expect(edge.devices.find("d-1")?.epoch == epochs.max())
        #expect(await loser.closedByEdge())
        #expect(survivor.channel.isActive)
        if epochs[1] > epochs[0] {
            guard case .frame(.welcome) = secondAnswer else { Issue.record("the newer one is welcomed"); return }
            #expect(try await first.written() == [.close(CloseCode.replaced.rawValue)])
            // The replaced connection's end names its own session and epoch: it cannot erase the newer route.
            #expect(edge.routes.releases.map(\.session) == [firstSession])
            #expect(try edge.connectionEvents().map { "\($0.kind) \($0.epoch)" } == ["connect 1", "connect 2", "disconnect 1"])
        } else {
            #expect(secondAnswer == .close(CloseCode.replaced.rawValue), "the older claim is never welcomed")
            #expect(try await second.written().isEmpty)
            #expect(edge.routes.releases.isEmpty)
            #expect(try edge.connectionEvents().map { "\($0.kind) \($0.epoch)" } == ["connect 2"])
        }
        #expect(try await edge.end(first).isClean)
        #expect(try await edge.end(second).isClean)
    }

    @Test func aTakeoverFromAnotherEdgeAsksThatEdgeToCloseTheOldSession() async throws {
        let edge = try await TestEdge()
        let record = EdgeRecord(instance: "i-2", host: "10.0.0.2", port: 7100)
        edge.routes.setRecord(record, of: "edge-2")
        edge.routes.nextClaimReplaces(DeviceRoute(edge: "edge-2", session: "old", epoch: 1, sinceMs: 0))
        let (line, _) = try await edge.welcomed("d-1")
        let batches = edge.handoff.batches
        #expect(batches.map(\.notices) == [[.close(device: "d-1", session: "old")]])
        #expect(batches.first?.edge == "edge-2" && batches.first?.record == record)
        #expect(line.channel.isActive)
        edge.handoff.complete(0, .abandoned("edge-2 did not answer"))
        #expect(try await edge.end(line).isClean)
    }
}
