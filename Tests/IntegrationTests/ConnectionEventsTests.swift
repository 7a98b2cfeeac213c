import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

/// Edges publish a connect and a disconnect record per welcomed connection, in the documented format
/// (docs/kafka-contract.md, "Connection events").
@Suite(.timeLimit(.minutes(3)))
struct ConnectionEventsTests {
    @Test func connectAndDisconnectFollowTheContract() async throws {
        let cluster = try await TestCluster.shared
        let consumer = try KafkaConsumer(config: try await TestCluster.kafka, groupID: nil, logger: .init(label: "events-test"))
        defer { consumer.close() }
        try await offload { try consumer.assignFromEnd(topic: "cg.connections") }

        let device = TestCluster.uniqueDevice("events")
        let startedMs = Int64(Date().timeIntervalSince1970 * 1000)
        let client = try await DeviceClient.connect(to: cluster.edgeURL(1))
        let welcome = try await client.hello(device: device, token: try await TestCluster.token(device))
        await client.close()

        let records = try await offload { () -> [KafkaRecord] in
            var found: [KafkaRecord] = []
            let deadline = Date().addingTimeInterval(20)
            while found.count < 2 && Date() < deadline {
                found += try consumer.poll(maxRecords: 100, timeout: .milliseconds(200)).filter { $0.key == Array(device.utf8) }
            }
            return found
        }
        #expect(records.map { $0.headerString("event") } == ["connect", "disconnect"])
        var epochs: Set<String> = []
        for record in records {
            #expect(record.value.isEmpty)
            #expect(record.headerString("device") == device)
            #expect(record.headerString("edge") == "edge-2" && record.headerString("edge") == welcome.edge)
            #expect(record.headerString("session") == welcome.session)
            let epoch = try #require(record.headerString("epoch"))
            #expect(Int64(epoch) ?? 0 > 0, "epoch is decimal")
            epochs.insert(epoch)
            let at = try #require(record.headerString("at").flatMap { Int64($0) })
            #expect(at >= startedMs - 1000 && at <= Int64(Date().timeIntervalSince1970 * 1000) + 1000, "at is Unix ms")
            #expect(Set(record.headers.map(\.name)) == ["event", "device", "edge", "session", "epoch", "at"])
        }
        #expect(epochs.count == 1, "both events name the same claim")
        let redis = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: cluster.redis.port), logger: .init(label: "events-test"))
        defer { redis.close() }
        #expect(try await redis.send(["GET", "cg:epoch:{\(device)}"]).string == epochs.first, "the route claim's epoch")
    }
}
