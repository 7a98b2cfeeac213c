import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Testing

/// Each edge limit gives its documented answer: 4003 past the message rate; a closed TCP connection past the per-IP
/// cap, the per-IP connect rate or the edge's cap; a closed connection past the handshake timeout; 403 for an origin
/// not allowed. Each test runs an edge of its own with small limits, so the shared edges keep their defaults.
@Suite(.timeLimit(.minutes(3)))
struct LimitTests {
    /// Connects, or fails within a few seconds (a refused connection is closed before the upgrade).
    func tryConnect(_ url: String) async -> DeviceClient? {
        try? await within(5, "a connection") { try await DeviceClient.connect(to: url) }
    }

    @Test func sendingFasterThanTheMessageRateClosesWith4003() async throws {
        let edge = try await EdgeProbe.startEdge("rate", ["--max-messages-per-second", "5", "--message-burst", "10"])
        defer { edge.process.stop() }

        // Within the burst: hello, a few acks and a message, all answered.
        let politeDevice = TestCluster.uniqueDevice("polite")
        let polite = try await DeviceClient.connect(to: edge.url)
        _ = try await polite.hello(device: politeDevice, token: try await TestCluster.token(politeDevice))
        for i in 0..<5 { polite.ack("nothing-\(i)") }
        _ = try await polite.send(service: "echo", json: "1")
        await polite.close()

        let device = TestCluster.uniqueDevice("flood")
        let flood = try await DeviceClient.connect(to: edge.url)
        _ = try await flood.hello(device: device, token: try await TestCluster.token(device))
        for i in 0..<30 { flood.ack("nothing-\(i)") }
        #expect(try await flood.closeCode() == CloseCode.tooFast.rawValue)
        #expect(edge.process.isRunning)
    }

    @Test func connectionsPastThePerIPCapAreClosedAtAccept() async throws {
        let edge = try await EdgeProbe.startEdge("per-ip", ["--max-connections-per-ip", "3"])
        defer { edge.process.stop() }
        var held: [DeviceClient] = []
        for _ in 0..<3 { held.append(try await DeviceClient.connect(to: edge.url)) }
        #expect(await tryConnect(edge.url) == nil, "a fourth connection from 127.0.0.1 is refused")
        try await edge.process.line(containing: "refused a connection from 127.0.0.1: the IP holds its maximum of 3 connections")

        await held.removeFirst().close()
        // The slot is freed when the edge sees the close.
        var again: DeviceClient?
        for _ in 0..<20 where again == nil {
            again = await tryConnect(edge.url)
            if again == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let device = TestCluster.uniqueDevice("per-ip")
        _ = try #require(try await again?.hello(device: device, token: try await TestCluster.token(device)))
        for client in held + [again].compactMap({ $0 }) { await client.close() }
    }

    @Test func connectingFasterThanThePerIPConnectRateIsRefusedAtAccept() async throws {
        let edge = try await EdgeProbe.startEdge("connect-rate", ["--max-connects-per-ip-per-second", "0.01", "--connect-burst-per-ip", "3"])
        defer { edge.process.stop() }
        for _ in 0..<3 {
            let client = try #require(await tryConnect(edge.url))
            await client.close()
        }
        #expect(await tryConnect(edge.url) == nil, "closing and reconnecting does not reset the rate")
        try await edge.process.line(containing: "the IP connects faster than 0.01/s")
    }

    @Test func connectionsPastTheEdgeCapAreClosedAtAccept() async throws {
        let edge = try await EdgeProbe.startEdge("max-conn", ["--max-connections", "2"])
        defer { edge.process.stop() }
        let first = try await DeviceClient.connect(to: edge.url)
        let second = try await DeviceClient.connect(to: edge.url)
        #expect(await tryConnect(edge.url) == nil)
        try await edge.process.line(containing: "the edge holds its maximum of 2 connections (--max-connections)")
        await first.close()
        await second.close()
    }

    @Test func handshakeTimeoutClosesSilentAndSlowConnectionsButNotUpgradedOnes() async throws {
        let edge = try await EdgeProbe.startEdge("handshake", ["--handshake-timeout", "1"])
        defer { edge.process.stop() }
        let port = "\(edge.port)"
        let silent = try await EdgeProbe.value("closed_after", ["stall", "--port", port, "--wait", "10"])
        let slow = try await EdgeProbe.value("closed_after", ["stall", "--port", port, "--partial", "--wait", "10"])
        for seconds in [silent, slow].map({ Double($0) ?? -1 }) {
            #expect(seconds >= 0.9 && seconds < 4, "closed after \(seconds) s")
        }

        // The timer ends with the upgrade: an upgraded connection outlives it (the hello timeout takes over).
        let client = try await DeviceClient.connect(to: edge.url)
        try await Task.sleep(for: .seconds(2))
        let device = TestCluster.uniqueDevice("handshake")
        _ = try await client.hello(device: device, token: try await TestCluster.token(device))
        await client.close()
    }

    @Test func anOriginNotAllowedGets403() async throws {
        let edge = try await EdgeProbe.startEdge("origin", ["--allowed-origin", "https://app.example",
                                                            "--allowed-origin", "http://localhost:8080"])
        defer { edge.process.stop() }
        let port = "\(edge.port)"
        #expect(try await EdgeProbe.value("status", ["upgrade", "--port", port, "--origin", "https://evil.example"]) == "403")
        #expect(try await EdgeProbe.value("status", ["upgrade", "--port", port, "--origin", "https://app.example"]) == "101")
        #expect(try await EdgeProbe.value("status", ["upgrade", "--port", port, "--origin", "http://localhost:8080"]) == "101")
        #expect(try await EdgeProbe.value("status", ["upgrade", "--port", port]) == "101", "no Origin: not a browser")
    }

    /// Past the open-file limit `accept` fails (EMFILE): the edge says so and keeps serving once descriptors free up.
    @Test func runningOutOfFileDescriptorsIsLoggedAndSurvived() async throws {
        let edge = try await EdgeProbe.startEdge("emfile", ["--max-connections", "100000"], shell: "ulimit -n 300")
        defer { edge.process.stop() }
        let holder = try EdgeProbe.start(["hold", "--port", "\(edge.port)", "--count", "400", "--seconds", "3"])
        defer { holder.stop(grace: 1) }
        try await edge.process.line(containing: "cannot accept connections: out of file descriptors (EMFILE", timeout: 20)
        try await holder.line(containing: "released", timeout: 20)
        #expect(edge.process.isRunning)

        // Accepting resumes (after the backoff) for connections that were waiting and for new ones.
        let client = try await within(20, "a connection after EMFILE") {
            while true {
                if let client = await tryConnect(edge.url) { return client }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        let device = TestCluster.uniqueDevice("emfile")
        _ = try await client.hello(device: device, token: try await TestCluster.token(device))
        await client.close()
    }
}
