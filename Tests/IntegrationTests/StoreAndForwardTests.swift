import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

/// Messages wait in the device's mailbox until it acks them: offline delivery, redelivery, expiry, takeover, window.
@Suite(.timeLimit(.minutes(3)))
struct StoreAndForwardTests {
    @Test(arguments: TestRedis.allCases)
    func offlineDeviceGetsItsMessagesInOrderWhenItConnects(on redis: TestRedis) async throws {
        let device = TestCluster.uniqueDevice("offline")
        let backend = try await TestBackend(on: redis)
        defer { backend.producer.shutdownBlocking() }
        for i in 0..<5 { try await backend.send(to: device, id: "w-\(i)", json: "\(i)") }
        try await Task.sleep(for: .milliseconds(500))
        let client = try await TestCluster.connect(device, edge: 1, on: redis)
        var ids: [String] = []
        for _ in 0..<5 { ids.append(try await client.nextMessage().id) }
        #expect(ids == (0..<5).map { "w-\($0)" })
        await client.close()
    }

    @Test(arguments: TestRedis.allCases)
    func unackedMessagesComeBackWithTheSameIdAndAckedOnesDoNot(on redis: TestRedis) async throws {
        let device = TestCluster.uniqueDevice("redeliver")
        let backend = try await TestBackend(on: redis)
        defer { backend.producer.shutdownBlocking() }
        var client = try await TestCluster.connect(device, edge: 0, autoAck: false, on: redis)
        try await backend.send(to: device, id: "r-1", json: "1")
        #expect(try await client.nextMessage().id == "r-1")
        await client.close()

        client = try await TestCluster.connect(device, edge: 1, autoAck: false, on: redis)
        #expect(try await client.nextMessage().id == "r-1", "not acked, so delivered again, same id")
        client.ack("r-1")
        try await backend.send(to: device, id: "r-2", json: "2")
        #expect(try await client.nextMessage().id == "r-2")
        client.ack("r-2")
        try await Task.sleep(for: .milliseconds(300))
        await client.close()

        client = try await TestCluster.connect(device, edge: 0, on: redis)
        try await backend.send(to: device, id: "r-3", json: "3")
        #expect(try await client.nextMessage().id == "r-3", "acked messages are gone from the mailbox")
        await client.close()
    }

    @Test(arguments: TestRedis.allCases)
    func expiredMessageIsNotDeliveredAndIsReportedToItsService(on redis: TestRedis) async throws {
        let device = TestCluster.uniqueDevice("expiry")
        let backend = try await TestBackend(on: redis)
        defer { backend.producer.shutdownBlocking() }
        let reports = try KafkaConsumer(config: try await TestCluster.kafka(on: redis), groupID: nil, logger: .init(label: "reports"))
        defer { reports.close() }
        let admin = try KafkaAdmin(config: try await TestCluster.kafka(on: redis), logger: .init(label: "reports"))
        try admin.createTopics([TopicSpec(name: "cg.report.echo")])
        admin.close()
        try reports.assignFromEnd(topic: "cg.report.echo")

        try await backend.send(to: device, id: "short", json: #""gone""#, ttlSeconds: 1)
        try await backend.send(to: device, id: "long", json: #""kept""#, ttlSeconds: 600)
        try await Task.sleep(for: .milliseconds(2500))
        let client = try await TestCluster.connect(device, edge: 0, on: redis)
        let delivered = try await client.nextMessage().id
        #expect(delivered == "long")

        let report = try await offload {
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                if let r = try reports.poll(maxRecords: 100, timeout: .milliseconds(200))
                    .first(where: { $0.headerString(RecordHeader.device) == device }) { return r }
            }
            throw TimedOut(what: "an expiry report", seconds: 15)
        }
        #expect(report.headerString(RecordHeader.messageID) == "short")
        #expect(report.headerString(RecordHeader.reason) == "expired")
        #expect(report.value == Array(#""gone""#.utf8))
        #expect(ReportRecord(record: report)?.reason == .expired, "the contract's decoder reads what the router wrote")
        try await Task.sleep(for: .milliseconds(500))
        let reported = report.headerString(RecordHeader.messageID) == "short" ? 1 : 0
        let got = client.receivedMessages
        print("fault device offline past a message's TTL: sent 2 (ttl 1 s and 600 s), delivered \(got) (\(delivered)), expired and reported \(reported), lost \(2 - got - reported)")
        await client.close()
    }

    @Test(arguments: TestRedis.allCases)
    func aNewConnectionOnAnotherEdgeClosesTheOldOneWithReplaced(on redis: TestRedis) async throws {
        let device = TestCluster.uniqueDevice("replaced")
        let old = try await TestCluster.connect(device, edge: 0, on: redis)
        let new = try await TestCluster.connect(device, edge: 1, on: redis)
        #expect(try await old.closeCode(timeout: .seconds(10)) == CloseCode.replaced.rawValue)
        try await new.send(service: "echo", json: "1")
        #expect(try await new.nextMessage().payload == .json([0x31]))
        await new.close()
    }

    @Test(arguments: TestRedis.allCases)
    func aDeviceHoldsAtMostTheWindowUnackedTheRestWaits(on redis: TestRedis) async throws {
        let device = TestCluster.uniqueDevice("window")
        let backend = try await TestBackend(on: redis)
        defer { backend.producer.shutdownBlocking() }
        let client = try await TestCluster.connect(device, edge: 1, autoAck: false, on: redis)
        for i in 0..<40 { try await backend.send(to: device, id: "x-\(i)", json: "\(i)") }
        var got: [String] = []
        for _ in 0..<32 { got.append(try await client.nextMessage().id) }
        #expect(got == (0..<32).map { "x-\($0)" })
        try await Task.sleep(for: .milliseconds(1500))
        #expect(client.receivedMessages == 32, "no more than the window while nothing is acked")
        for id in got.prefix(8) { client.ack(id) }
        for i in 32..<40 { #expect(try await client.nextMessage().id == "x-\(i)") }
        await client.close()
    }
}
