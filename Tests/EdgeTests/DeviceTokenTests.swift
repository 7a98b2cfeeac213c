import ChannelProtocol
import Foundation
import NIOCore
import Shared
import Testing
@testable import Edge

/// A token's life on an open connection, in-process (docs/protocol.md, "Token refresh"): refresh with the same
/// attacks as at hello, the refresh rate, `refresh_due`, expiry (4008) and revocation (4009).
@Suite(.timeLimit(.minutes(1))) struct DeviceTokenTests {
    static let catalog = ServiceCatalog(names: ["echo", "chat"], topics: Topics(prefix: "cg"))

    func welcomed(_ edge: TestEdge, token: String) async throws -> (DeviceLine, Welcome) {
        let line = try await edge.connect()
        try await line.send(.hello(Hello(device: "d-1", token: token)))
        guard case .frame(.welcome(let welcome)) = try await line.next() else { throw LineError("no welcome") }
        if let read = edge.mailbox.open.last { edge.mailbox.answer(read, []) }
        await edge.loop.run()
        return (line, welcome)
    }

    func sweep(_ line: DeviceLine, wallSeconds: Double) async throws {
        try await line.channel.testingEventLoop.executeInContext {
            try line.channel.pipeline.syncOperations.handler(type: DeviceConnection.self)
                .sweep(now: .now(), wallSeconds: wallSeconds)
        }
    }

    func sendMessage(_ line: DeviceLine, to service: String, id: String) async throws -> DeviceLine.Out? {
        try await line.send(.msg(Message(service: service, id: id, payload: .json(Array("1".utf8)))))
        return try await line.written().first
    }

    @Test func aRefreshReplacesTheGrantForTheNextMessage() async throws {
        let edge = try await TestEdge { $0.services = Self.catalog }
        let minted = Date().timeIntervalSince1970
        let first = try await edge.tokens.mint(device: "d-1", services: ["echo"], ttl: .seconds(600))
        let (line, welcome) = try await welcomed(edge, token: first)
        let welcomed = Date().timeIntervalSince1970
        // The token's exp (whole seconds), whatever a loaded machine made the hello take.
        #expect(welcome.tokenExpiresAt.map { Double($0) >= minted + 599 && Double($0) <= welcomed + 601 } == true)
        guard case .frame(.error(let forbidden))? = try await sendMessage(line, to: "chat", id: "m-1") else {
            Issue.record("chat is not forbidden before the refresh"); return
        }
        #expect(forbidden.code == .forbiddenService)

        let second = try await edge.tokens.mint(device: "d-1", services: ["chat"], ttl: .seconds(1200))
        try await line.send(.refresh(token: second))
        guard case .frame(.refreshed(let expiresAt)) = try await line.next() else { Issue.record("no refreshed"); return }
        #expect(abs(Double(expiresAt) - Date().timeIntervalSince1970 - 1200) < 5)
        _ = try await sendMessage(line, to: "chat", id: "m-2")
        #expect(edge.publisher.records(on: "cg.up.chat").count == 1)
        guard case .frame(.error(let nowForbidden))? = try await sendMessage(line, to: "echo", id: "m-3") else {
            Issue.record("echo is still allowed after the refresh"); return
        }
        #expect(nowForbidden.code == .forbiddenService)
        // The record carries the new token's claims for the service to enforce.
        let claims = try #require(edge.publisher.records(on: "cg.up.chat").first?.headers.first { $0.name == "claims" }?.value)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(claims)) as? [String: Any])
        #expect(object["services"] as? [String] == ["chat"] && object["sub"] == nil && object["aud"] == nil)
        edge.publisher.deliverAll(.success(.init(partition: 0, offset: 0)))
        _ = try await edge.end(line)
    }

    /// The attacks of hello, at refresh: each is `auth_failed` (ref `refresh`), and the connection stays open with
    /// the grant it had.
    @Test(arguments: ["forged", "expired", "alg-none", "other-device", "other-audience", "garbage"])
    func aBadRefreshIsRefusedAndTheConnectionKeepsItsGrant(attack: String) async throws {
        let edge = try await TestEdge { $0.services = Self.catalog }
        let (line, _) = try await welcomed(edge, token: try await edge.tokens.mint(device: "d-1", services: ["echo"], ttl: .seconds(600)))
        let token: String
        switch attack {
        case "forged":
            let good = try await edge.tokens.mint(device: "d-1", services: ["*"], ttl: .seconds(600))
            let parts = good.split(separator: ".").map(String.init)
            let claims = Data(#"{"sub":"d-1","aud":["channel-gateway"],"iat":1,"exp":4000000000,"services":["*"]}"#.utf8)
                .base64EncodedString().replacingOccurrences(of: "=", with: "")
            token = "\(parts[0]).\(claims).\(parts[2])"
        case "expired":
            token = try await edge.tokens.mint(device: "d-1", services: ["*"], ttl: .seconds(60),
                                               notBefore: Date().addingTimeInterval(-120))
        case "alg-none":
            let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            let claims = Data(#"{"sub":"d-1","aud":["channel-gateway"],"iat":1,"exp":4000000000,"services":["*"]}"#.utf8)
                .base64EncodedString().replacingOccurrences(of: "=", with: "")
            token = "\(header).\(claims)."
        case "other-device":
            token = try await edge.tokens.mint(device: "d-2", services: ["*"], ttl: .seconds(600))
        case "other-audience":
            token = try await edge.tokens.mint(device: "d-1", services: ["*"], ttl: .seconds(600), audience: "someone-else")
        default:
            token = "garbage"
        }
        try await line.send(.refresh(token: token))
        guard case .frame(.error(let error)) = try await line.next() else { Issue.record("no error"); return }
        #expect(error.code == .authFailed && error.ref == "refresh", "\(attack): \(error)")
        #expect(!error.message.contains(token))
        #expect(line.channel.isActive)
        guard case .frame(.error(let forbidden))? = try await sendMessage(line, to: "chat", id: "m-1") else {
            Issue.record("\(attack) widened the grant"); return
        }
        #expect(forbidden.code == .forbiddenService)
        _ = try await sendMessage(line, to: "echo", id: "m-2")
        #expect(edge.publisher.records(on: "cg.up.echo").count == 1)
        edge.publisher.deliverAll(.success(.init(partition: 0, offset: 0)))
        _ = try await edge.end(line)
    }

    @Test func aRefreshFloodIsRefusedWithoutCheckingAndTheConnectionStays() async throws {
        let edge = try await TestEdge()
        let (line, _) = try await welcomed(edge, token: try await edge.token(for: "d-1"))
        for attempt in 1...DeviceConnection.refreshBurst {
            try await line.send(.refresh(token: "garbage-\(attempt)"))
            guard case .frame(.error(let error)) = try await line.next() else { Issue.record("no error"); return }
            #expect(error.code == .authFailed && error.message.contains("malformed"))
        }
        // Past the burst even a good token is refused at once: nothing is verified until the bucket refills.
        try await line.send(.refresh(token: try await edge.token(for: "d-1")))
        guard case .frame(.error(let error))? = try await line.written().first else { Issue.record("no error"); return }
        #expect(error.code == .authFailed && error.message.contains("too often"))
        #expect(line.channel.isActive)
        _ = try await edge.end(line)
    }

    @Test func anExpiringTokenIsAnnouncedOnceThenClosedWith4008AfterTheGrace() async throws {
        let edge = try await TestEdge { $0.tokenGraceSeconds = 10; $0.refreshLeadSeconds = 60 }
        let (line, welcome) = try await welcomed(edge, token: try await edge.tokens.mint(device: "d-1", services: ["*"], ttl: .seconds(600)))
        let expires = Double(try #require(welcome.tokenExpiresAt))
        try await sweep(line, wallSeconds: expires - 61)
        #expect(try await line.written().isEmpty)
        try await sweep(line, wallSeconds: expires - 59)
        #expect(try await line.written() == [.frame(.refreshDue(expiresAt: Int(expires)))])
        try await sweep(line, wallSeconds: expires - 30)
        try await sweep(line, wallSeconds: expires + 9)
        #expect(try await line.written().isEmpty)
        // `exp` in welcome is whole seconds, the token's own may have a fraction.
        try await sweep(line, wallSeconds: expires + 11)
        let out = try await line.written()
        guard case .frame(.error(let error))? = out.first else { Issue.record("no error"); return }
        #expect(error.code == .tokenExpired && out.last == .close(CloseCode.tokenExpired.rawValue))
        _ = try await edge.end(line)
    }

    @Test func aRefreshMovesTheExpiryAndTheWarning() async throws {
        let edge = try await TestEdge()
        let (line, welcome) = try await welcomed(edge, token: try await edge.tokens.mint(device: "d-1", services: ["*"], ttl: .seconds(100)))
        let first = Double(try #require(welcome.tokenExpiresAt))
        // A fifth of a 100 s token's life: warned 20 s ahead.
        try await sweep(line, wallSeconds: first - 19)
        #expect(try await line.written() == [.frame(.refreshDue(expiresAt: Int(first)))])
        try await line.send(.refresh(token: try await edge.tokens.mint(device: "d-1", services: ["*"], ttl: .seconds(3600))))
        guard case .frame(.refreshed(let next)) = try await line.next() else { Issue.record("no refreshed"); return }
        try await sweep(line, wallSeconds: first + 60)
        #expect(try await line.written().isEmpty && line.channel.isActive)
        try await sweep(line, wallSeconds: Double(next) - 59)
        #expect(try await line.written() == [.frame(.refreshDue(expiresAt: next))])
        _ = try await edge.end(line)
    }

    @Test func aRevocationClosesMatchingConnectionsWith4009AndRefusesTheTokenAtHello() async throws {
        let edge = try await TestEdge()
        let token = try await edge.token(for: "d-1")
        let (line, _) = try await welcomed(edge, token: token)
        let (other, _) = try await edge.welcomed("d-2")
        let now = Int64(Date().timeIntervalSince1970)
        // A rule for another key, and one for d-1's tokens issued before this one: neither stops it.
        edge.context.revocations.replace(with: RevocationSet([
            Revocation(target: .key("retired"), createdAt: now),
            Revocation(target: .device("d-1"), issuedBefore: now - 3600, createdAt: now),
        ]), devices: edge.devices)
        #expect(try await line.written().isEmpty && line.channel.isActive)

        edge.context.revocations.replace(with: RevocationSet([Revocation(target: .device("d-1"), issuedBefore: now, createdAt: now)]),
                                         devices: edge.devices)
        let out = try await line.written()
        guard case .frame(.error(let error))? = out.first else { Issue.record("no error"); return }
        #expect(error.code == .revoked && out.last == .close(CloseCode.revoked.rawValue))
        #expect(try await other.written().isEmpty && other.channel.isActive)

        let again = try await edge.connect()
        try await again.send(.hello(Hello(device: "d-1", token: token)))
        guard case .frame(.error(let refused)) = try await again.next() else { Issue.record("no error"); return }
        #expect(refused.code == .authFailed && refused.message == "token revoked")
        #expect(try await again.written() == [.close(CloseCode.authFailed.rawValue)])
        _ = try await edge.end(line)
        _ = try await edge.end(other)
        _ = try await edge.end(again)
    }

    @Test func revokingAKeyClosesOnlyTheTokensSignedWithIt() async throws {
        let edge = try await TestEdge()
        let (line, _) = try await welcomed(edge, token: try await edge.token(for: "d-1"))
        edge.context.revocations.replace(with: RevocationSet([Revocation(target: .key("dev"), createdAt: 0)]), devices: edge.devices)
        let out = try await line.written()
        #expect(out.last == .close(CloseCode.revoked.rawValue))
        _ = try await edge.end(line)
    }
}
