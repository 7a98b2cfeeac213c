import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Shared
import Testing

/// The device client facing an edge that stopped (SIGSTOP) mid-conversation: found by the chaos run (issue 16), where
/// a device that left while its hello hung on a stopped edge lost the messages waiting in its mailbox.
@Suite(.serialized) struct ClientFaultTests {
    /// A hello given up on while the edge is stopped must not ack what the edge sends once it runs again: an ack takes
    /// the message out of the mailbox, and nobody reads this connection any more. (Without the fix the abandoned
    /// connection acked all five, and the device's next connection found an empty mailbox.)
    @Test func aHelloGivenUpOnAStoppedEdgeAcksNothing() async throws {
        let f = try await FaultCluster.start("client-abandoned-hello")
        defer { f.stop() }
        let device = "abandoned-hello"
        let topics = Topics(prefix: "cg")
        for n in 1...5 {
            let record = DownstreamRecord(device: device, service: "echo", id: "w-\(n)", contentType: ContentType.json,
                                          payload: Array("\(n)".utf8)).record(topics: topics)
            _ = try await f.producer.send(record)
        }
        let authority = try await TokenAuthority(secret: TokenAuthority.developmentSecret)
        let token = try await authority.mint(device: device, services: ["*"], ttl: .seconds(600))
        // The routers store the five before the device says hello.
        try await Task.sleep(for: .seconds(2))

        let edge = f.cluster.edges[0].process
        let first = try await DeviceClient.connect(to: f.cluster.edgeURL(0))
        edge.signal(SIGSTOP)
        await #expect(throws: DeviceClient.Failure.self) { try await first.hello(device: device, token: token, timeout: .seconds(1)) }
        edge.signal(SIGCONT)
        // The stopped edge now reads the hello, welcomes the device and sends its mailbox to the abandoned connection.
        try await Task.sleep(for: .seconds(3))
        await first.close()

        let second = try await DeviceClient.connect(to: f.cluster.edgeURL(1))
        _ = try await second.hello(device: device, token: token)
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(20))
            await second.close()
        }
        var received: [String] = []
        for await message in second.messages {
            received.append(message.id)
            if received.count == 5 { break }
        }
        watchdog.cancel()
        await second.close()
        #expect(received == (1...5).map { "w-\($0)" }, "the mailbox after a hello given up on: \(received)")
    }

    /// An edge that accepted the TCP connection but is stopped cannot hold a device: the upgrade is given up after 10 s
    /// and the device connects to the next edge while the first is still stopped. (Without the fix it waited for the
    /// stopped edge as long as it stayed stopped.)
    @Test func aDeviceLeavesAnEdgeThatDoesNotAnswerTheUpgrade() async throws {
        let f = try await FaultCluster.start("client-stopped-edge")
        defer { f.stop() }
        let edge = f.cluster.edges[0].process
        edge.signal(SIGSTOP)
        defer { edge.signal(SIGCONT) }
        let authority = try await TokenAuthority(secret: TokenAuthority.developmentSecret)
        let token = try await authority.mint(device: "stopped-edge", services: ["*"], ttl: .seconds(600))
        let device = PersistentDevice(device: "stopped-edge", urls: [f.cluster.edgeURL(0), f.cluster.edgeURL(1)],
                                      minBackoff: .milliseconds(50), maxBackoff: .seconds(1)) { token }
        let started = ContinuousClock.now
        device.start()
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(25))
            edge.signal(SIGCONT)
        }
        var connectedTo: String?
        for await event in device.events {
            if case .connected(let edge, _) = event {
                connectedTo = edge
                break
            }
        }
        watchdog.cancel()
        let waited = ContinuousClock.now - started
        await device.stop()
        print("fault a stopped edge: the device connected to \(connectedTo ?? "none") after \(waited)")
        #expect(connectedTo == "edge-2")
        #expect(waited < .seconds(18))
    }
}
