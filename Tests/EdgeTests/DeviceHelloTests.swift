import ChannelProtocol
import Foundation
import NIOCore
import Shared
import Testing
@testable import Edge

/// A device connection's hello, in-process: welcomed and registered, refused with the documented close codes, or
/// timed out (docs/protocol.md).
@Suite(.timeLimit(.minutes(1))) struct DeviceHelloTests {
    @Test func aValidHelloIsWelcomedRegisteredAndAnnouncedAndItsEndReleasesTheRoute() async throws {
        let edge = try await TestEdge()
        let line = try await edge.connect()
        try await line.send(.hello(Hello(device: "d-1", token: edge.token(for: "d-1"))))
        guard case .frame(.welcome(let welcome)) = try await line.next() else {
            Issue.record("no welcome")
            return
        }
        #expect(welcome.edge == TestEdge.id && !welcome.session.isEmpty)
        #expect(welcome.heartbeatSeconds == 25 && welcome.maxMessageBytes == 64 * 1024)
        #expect(edge.routes.claims == [.init(device: "d-1", edge: TestEdge.id, session: welcome.session)])
        #expect(edge.devices.find("d-1")?.session == welcome.session)
        // The mailbox is read from the start of a whole window at once, after the route was claimed.
        #expect(edge.mailbox.reads.map { "\($0.device) \($0.after) \($0.limit)" } == ["d-1 0 32"])
        #expect(try edge.connectionEvents().map { "\($0.kind) \($0.session) \($0.epoch)" } == ["connect \(welcome.session) 1"])

        #expect(try await line.channel.finish().isClean)
        #expect(edge.devices.find("d-1") == nil)
        #expect(edge.routes.releases == [.init(device: "d-1", edge: "", session: welcome.session)])
        #expect(try edge.connectionEvents().map { "\($0.kind) \($0.session) \($0.epoch)" }
            == ["connect \(welcome.session) 1", "disconnect \(welcome.session) 1"])
        _ = try await edge.end(line)
    }

    @Test(arguments: ["not-a-token", "token-of-another-device"])
    func aBadTokenIsAnAuthErrorAndClose4001(token: String) async throws {
        let edge = try await TestEdge()
        let line = try await edge.connect()
        let presented = token == "not-a-token" ? token : try await edge.token(for: "d-2")
        try await line.send(.hello(Hello(device: "d-1", token: presented)))
        guard case .frame(.error(let error)) = try await line.next() else {
            Issue.record("no error frame")
            return
        }
        #expect(error.code == .authFailed)
        #expect(try await line.written() == [.close(CloseCode.authFailed.rawValue)])
        #expect(await line.closedByEdge())
        #expect(edge.routes.claims.isEmpty && edge.publisher.records.isEmpty)
        #expect(try await edge.end(line).isClean)
    }

    @Test func aRegistryThatCannotClaimIsUnavailableAndClose4007() async throws {
        let edge = try await TestEdge()
        edge.routes.failClaims()
        let line = try await edge.connect()
        try await line.send(.hello(Hello(device: "d-1", token: edge.token(for: "d-1"))))
        guard case .frame(.error(let error)) = try await line.next() else {
            Issue.record("no error frame")
            return
        }
        #expect(error.code == .unavailable)
        #expect(try await line.written() == [.close(CloseCode.unavailable.rawValue)])
        #expect(edge.devices.find("d-1") == nil && edge.publisher.records.isEmpty)
        #expect(try await edge.end(line).isClean)
    }

    @Test func noHelloWithinTheTimeoutIsClose4006() async throws {
        let edge = try await TestEdge { $0.helloTimeoutSeconds = 10 }
        // The hello deadline runs on the wall clock from when the connection was made: measure from before it, so a
        // busy machine (the whole suite runs in parallel) cannot make 9 s after "now" pass the deadline.
        let beforeConnect = NIODeadline.now()
        let line = try await edge.connect()
        let sweep = { @Sendable (at: NIODeadline) in
            try await line.channel.testingEventLoop.executeInContext {
                try line.channel.pipeline.syncOperations.handler(type: DeviceConnection.self).sweep(now: at, wallSeconds: Date().timeIntervalSince1970)
            }
        }
        try await sweep(beforeConnect + .seconds(9))
        #expect(try await line.written().isEmpty)
        #expect(line.channel.isActive)
        try await sweep(.now() + .seconds(11))
        #expect(try await line.written() == [.frame(.error(ProtocolError(.helloRequired, "no hello in time"))),
                                             .close(CloseCode.helloTimeout.rawValue)])
        #expect(await line.closedByEdge())
        #expect(try await edge.end(line).isClean)
    }

    /// The hello's token check and route claim run as a task; the connection may end before it returns.
    @Test func aClaimThatFinishesAfterTheHelloTimedOutIsReleasedAndNeverWelcomed() async throws {
        let edge = try await TestEdge()
        edge.routes.holdClaims()
        let line = try await edge.connect()
        try await line.send(.hello(Hello(device: "d-1", token: edge.token(for: "d-1"))))
        await edge.routes.claimHeld()
        try await line.channel.testingEventLoop.executeInContext {
            try line.channel.pipeline.syncOperations.handler(type: DeviceConnection.self).sweep(now: .now() + .seconds(11), wallSeconds: Date().timeIntervalSince1970)
        }
        #expect(try await line.written() == [.frame(.error(ProtocolError(.helloRequired, "no hello in time"))),
                                             .close(CloseCode.helloTimeout.rawValue)])
        #expect(await line.closedByEdge())

        edge.routes.letClaimsGo()
        await edge.routes.released(count: 1)
        #expect(edge.routes.releases.map(\.session) == edge.routes.claims.map(\.session), "the claim it made is released")
        #expect(edge.devices.find("d-1") == nil)
        #expect(try edge.connectionEvents().isEmpty)
        #expect(edge.mailbox.reads.isEmpty)
        #expect(try await edge.end(line).isClean)
    }
}
