import ChannelProtocol
import Foundation
import Shared
import Testing
@testable import Edge

/// The protocol state machine on its own: what each frame in each state leads to.
@Suite struct DeviceSessionTests {
    let grant = DeviceGrant(device: "d-1", services: ["echo"], expiresAt: Date().addingTimeInterval(60))
    let welcome = Welcome(edge: "e", session: "s", heartbeatSeconds: 25, maxMessageBytes: 1024)

    func ready() -> DeviceSession {
        var session = DeviceSession(services: ServiceCatalog(names: ["echo", "push"], topics: Topics(prefix: "cg")))
        _ = session.received(.success(.hello(Hello(device: "d-1", token: "t"))))
        _ = session.accepted(grant, session: "s", welcome: welcome)
        return session
    }

    func message(_ service: String) -> Frame { .msg(Message(service: service, id: "m", payload: .json([0x31]))) }

    @Test func helloIsAuthenticatedThenWelcomed() {
        var session = DeviceSession(services: ServiceCatalog(names: ["echo"], topics: Topics(prefix: "cg")))
        #expect(session.received(.success(.hello(Hello(device: "d-1", token: "t")))) == .authenticate(Hello(device: "d-1", token: "t")))
        #expect(session.accepted(grant, session: "s", welcome: welcome) == .send(.welcome(welcome)))
        #expect(session.readySession?.device == "d-1")
    }

    @Test func anythingBeforeHelloClosesWithProtocolViolation() {
        var session = DeviceSession(services: ServiceCatalog(names: ["echo"], topics: Topics(prefix: "cg")))
        guard case .sendAndClose(.error(let e)?, .protocolViolation) = session.received(.success(message("echo"))) else {
            Issue.record("expected close 4002"); return
        }
        #expect(e.code == .helloRequired)
        #expect(session.received(.success(message("echo"))) == nil, "nothing is acted on after closing")
    }

    @Test func framesWhileAuthenticatingAreRefused() {
        var session = DeviceSession(services: ServiceCatalog(names: ["echo"], topics: Topics(prefix: "cg")))
        _ = session.received(.success(.hello(Hello(device: "d-1", token: "t"))))
        guard case .sendAndClose(_, .protocolViolation) = session.received(.success(message("echo"))) else {
            Issue.record("expected close 4002"); return
        }
    }

    @Test func refusedTokenClosesWithAuthFailedAndRegistryTroubleWithUnavailable() {
        var a = DeviceSession(services: ServiceCatalog(names: ["echo"], topics: Topics(prefix: "cg")))
        _ = a.received(.success(.hello(Hello(device: "d-1", token: "t"))))
        guard case .sendAndClose(_, .authFailed) = a.refused(ProtocolError(.authFailed, "expired")) else { Issue.record("4001"); return }
        var b = DeviceSession(services: ServiceCatalog(names: ["echo"], topics: Topics(prefix: "cg")))
        _ = b.received(.success(.hello(Hello(device: "d-1", token: "t"))))
        guard case .sendAndClose(_, .unavailable) = b.refused(ProtocolError(.unavailable, "redis")) else { Issue.record("4007"); return }
    }

    @Test func messagesArePublishedOnlyForKnownAllowedServices() {
        var session = ready()
        #expect(session.received(.success(message("echo"))) == .publish(Message(service: "echo", id: "m", payload: .json([0x31])), device: "d-1", session: "s", claims: Array("{}".utf8)))
        guard case .send(.error(let unknown)) = session.received(.success(message("nope"))) else { Issue.record("unknown"); return }
        #expect(unknown.code == .unknownService && unknown.ref == "m")
        guard case .send(.error(let forbidden)) = session.received(.success(message("push"))) else { Issue.record("forbidden"); return }
        #expect(forbidden.code == .forbiddenService)
    }

    @Test func aServiceOpenToAllDevicesNeedsNoTokenClaim() {
        let catalog = ServiceCatalog([ServiceCatalog.Service(name: "echo", topic: "cg.up.echo"),
                                      ServiceCatalog.Service(name: "presence", topic: "presence.in", openToAllDevices: true)])
        var session = DeviceSession(services: catalog)
        _ = session.received(.success(.hello(Hello(device: "d-1", token: "t"))))
        _ = session.accepted(DeviceGrant(device: "d-1", services: [], expiresAt: .distantFuture), session: "s", welcome: welcome)
        guard case .publish = session.received(.success(message("presence"))) else { Issue.record("open service refused"); return }
        guard case .send(.error(let e)) = session.received(.success(message("echo"))), e.code == .forbiddenService else {
            Issue.record("a service the token does not name must stay forbidden"); return
        }
    }

    @Test func badFramesAfterHelloKeepTheConnection() {
        var session = ready()
        #expect(session.received(.failure(ProtocolError(.badFrame, "x"))) == .send(.error(ProtocolError(.badFrame, "x"))))
        #expect(session.readySession != nil)
        guard case .sendAndClose(_, .protocolViolation) = session.received(.success(.hello(Hello(device: "d-1", token: "t")))) else {
            Issue.record("a second hello closes"); return
        }
    }

    @Test func deviceAcksAreReported() {
        var session = ready()
        #expect(session.received(.success(.ack(id: "x"))) == .deviceAcked(id: "x", device: "d-1"))
    }
}
