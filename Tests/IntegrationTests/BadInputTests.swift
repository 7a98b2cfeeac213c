import ChannelClient
import ChannelProtocol
import DevCluster
import Shared
import Testing

/// Each kind of bad input gets its documented error frame or close code, and the edge keeps serving other devices.
@Suite(.timeLimit(.minutes(3)))
struct BadInputTests {
    /// The next error frame, skipping nothing else silently.
    func nextError(_ client: DeviceClient) async throws -> ProtocolError {
        let event = try await client.nextEvent()
        guard case .frame(.error(let error)) = event else {
            Issue.record("expected an error frame, got \(event)")
            throw TimedOut(what: "error frame", seconds: 0)
        }
        return error
    }

    func connectedAndWelcomed(_ name: String, edge: Int = 0, services: [String] = ["*"]) async throws -> DeviceClient {
        let client = try await TestCluster.connect(TestCluster.uniqueDevice(name), edge: edge, services: services)
        guard case .frame(.welcome) = try await client.nextEvent() else { throw TimedOut(what: "welcome", seconds: 0) }
        return client
    }

    @Test func malformedJSONGetsBadFrameAndTheConnectionKeepsWorking() async throws {
        let client = try await connectedAndWelcomed("malformed")
        client.sendText(#"{"type":"msg","service":"echo","id":"x","body":{"unterminated"#)
        #expect(try await nextError(client).code == .badFrame)
        client.sendText([0x7B, 0x22, 0xFF, 0x22, 0x7D])  // `{"\xFF"}`: not UTF-8
        let second = try await client.nextEvent()
        // NIO checks UTF-8 of text frames itself or our scanner does; either way the answer is documented.
        switch second {
        case .frame(.error(let e)): #expect(e.code == .badFrame)
        case .closed(let code): #expect(code == CloseCode.invalidData.rawValue)
        default: Issue.record("unexpected \(second)")
        }
        if case .frame = second {
            try await client.send(service: "echo", json: "1")
        }
        await client.close()
    }

    @Test func unknownFrameTypeGetsUnknownType() async throws {
        let client = try await connectedAndWelcomed("unknown-type")
        client.sendText(#"{"type":"teleport","id":"t-1"}"#)
        let error = try await nextError(client)
        #expect(error.code == .unknownType && error.ref == "t-1")
        await client.close()
    }

    @Test func unknownServiceIsRefusedWithItsRef() async throws {
        let client = try await TestCluster.connect(TestCluster.uniqueDevice("unknown-svc"), edge: 1)
        await #expect(throws: DeviceClient.Failure.refused(ProtocolError(.unknownService, "no service named \"nope\"", ref: "u-1"))) {
            try await client.send(service: "nope", json: "1", id: "u-1")
        }
        try await client.send(service: "echo", json: "2")
        await client.close()
    }

    @Test func serviceTheTokenDoesNotAllowIsForbidden() async throws {
        let client = try await TestCluster.connect(TestCluster.uniqueDevice("forbidden"), edge: 0, services: ["echo"])
        do {
            try await client.send(service: "contract", json: "1", id: "f-1")
            Issue.record("a forbidden service accepted a message")
        } catch DeviceClient.Failure.refused(let error) {
            #expect(error.code == .forbiddenService && error.ref == "f-1")
        }
        try await client.send(service: "echo", json: #""ok""#)
        await client.close()
    }

    @Test func messageBeforeHelloClosesWithProtocolViolation() async throws {
        let client = try await DeviceClient.connect(to: try await TestCluster.shared.edgeURL(0))
        client.send(frame: .msg(Message(service: "echo", id: "early", payload: .json(Array("1".utf8)))))
        #expect(try await nextError(client).code == .helloRequired)
        #expect(try await client.closeCode() == CloseCode.protocolViolation.rawValue)
    }

    @Test(arguments: ["forged", "expired", "other-device", "empty"])
    func badTokenClosesWithAuthFailed(kind: String) async throws {
        let device = TestCluster.uniqueDevice("auth")
        let token: String
        switch kind {
        case "forged":
            token = try await Shared.TokenAuthority(secret: "not-the-secret-but-just-as-long-as-one").mint(device: device, services: ["*"], ttl: .seconds(60))
        case "expired":
            token = try await TestCluster.token(device, ttl: .seconds(1))
            try await Task.sleep(for: .milliseconds(2100))
        case "other-device":
            token = try await TestCluster.token("someone-else")
        default:
            token = ""
        }
        let client = try await DeviceClient.connect(to: try await TestCluster.shared.edgeURL(1))
        do {
            _ = try await client.hello(device: device, token: token)
            Issue.record("a \(kind) token was accepted")
        } catch DeviceClient.Failure.refused(let error) {
            #expect(error.code == .authFailed)
        }
        #expect(try await client.closeCode() == CloseCode.authFailed.rawValue)
    }

    @Test func wrongPathIsNotUpgraded() async throws {
        await #expect(throws: DeviceClient.Failure.self) {
            _ = try await DeviceClient.connect(to: try await TestCluster.shared.edgeURL(0).replacingOccurrences(of: "/v1/channel", with: "/nope"))
        }
    }

    @Test func oversizedMessageClosesWith1009AndOthersAreUnaffected() async throws {
        let bystander = try await TestCluster.connect(TestCluster.uniqueDevice("bystander"), edge: 0)
        let client = try await connectedAndWelcomed("oversized")
        client.sendText(#"{"type":"msg","service":"echo","id":"big","body":""# + String(repeating: "x", count: 70_000) + #""}"#)
        var code: UInt16?
        for _ in 0..<3 {
            if case .closed(let c) = try await client.nextEvent() { code = c; break }
        }
        #expect(code == CloseCode.tooBig.rawValue)
        try await bystander.send(service: "echo", json: #""still here""#)
        #expect(try await bystander.nextMessage().payload == .json(Array(#""still here""#.utf8)))
        await bystander.close()
    }
}
