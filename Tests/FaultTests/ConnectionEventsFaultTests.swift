import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

extension FaultTests {
    /// SIGTERM on an edge: every device it held gets a `disconnect` event naming its connection, whether the device
    /// went during the drain or was still there when the edge shut its producer (docs/kafka-contract.md, "Connection
    /// events"). Devices here never reconnect, so nothing but the stopping edge can speak for them.
    @Test func aStoppingEdgePublishesADisconnectForEveryDeviceItHeld() async throws {
        let f = try await FaultCluster.start("events-stop", edgeArguments: ["--drain-deadline", "0"])
        defer { f.stop() }
        let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: f.cluster.broker.bootstrap), groupID: nil,
                                         logger: .init(label: "events-stop"))
        defer { consumer.close() }
        try await offload { try consumer.assignFromEnd(topic: "cg.connections") }

        let authority = try await TokenAuthority(secret: TokenAuthority.developmentSecret)
        var sessions: [String: String] = [:]
        var clients: [DeviceClient] = []
        for i in 0..<40 {
            let device = "es-\(i)"
            let client = try await DeviceClient.connect(to: f.cluster.edgeURL(0))
            let welcome = try await client.hello(device: device, token: try await authority.mint(device: device, services: ["*"], ttl: .seconds(600)))
            sessions[device] = welcome.session
            clients.append(client)
        }
        let edge = f.cluster.edges[0].process
        edge.signal(SIGTERM)
        await edge.exit(within: 30)
        #expect(!edge.isRunning, "edge-1 exits after its drain")

        let expected = sessions.count
        let disconnects = try await offload { () -> [String: String] in
            var found: [String: String] = [:]
            let deadline = Date().addingTimeInterval(20)
            while found.count < expected && Date() < deadline {
                for record in try consumer.poll(maxRecords: 500, timeout: .milliseconds(200))
                where record.headerString("event") == "disconnect" {
                    if let device = record.headerString("device") { found[device] = record.headerString("session") }
                }
            }
            return found
        }
        print("fault events: \(disconnects.count) of \(sessions.count) devices of a stopped edge got a disconnect event")
        #expect(disconnects == sessions, "one disconnect per held device, naming its connection")
        for client in clients { await client.close() }
    }
}
