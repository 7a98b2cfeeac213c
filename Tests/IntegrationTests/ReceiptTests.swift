import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

/// Delivery receipts through the whole gateway: a message that asks for one (header `receipt: 1`) is `waiting` once
/// stored, `delivered` once its edge acked the notice, `acked` once the device acked it, and its service's report
/// topic gets `delivered` and `acked`; one that waits offline past its ttl ends `expired`; a message that did not ask
/// leaves no receipt.
@Suite(.timeLimit(.minutes(3)))
struct ReceiptTests {
    /// Sends one downstream record as a backend would, with or without the receipt header.
    private static func send(_ backend: TestBackend, to device: String, id: String, ttlSeconds: Int64? = nil,
                             receipt: Bool) async throws {
        let message = DownstreamRecord(device: device, service: "echo", id: id, contentType: ContentType.json,
                                       ttlSeconds: ttlSeconds, payload: Array(#""\#(id)""#.utf8), receipt: receipt)
        _ = try await backend.producer.send(message.record(topics: backend.topics))
    }

    /// Reads the receipt until `done` holds for it, or throws after `seconds`.
    private static func receipt(_ store: ReceiptStore, _ device: String, _ id: String, within seconds: Double = 15,
                                until done: @escaping (Receipt?) -> Bool) async throws -> Receipt? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let receipt = try await store.receipt(device: device, id: id)
            if done(receipt) { return receipt }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TimedOut(what: "the receipt of \(id)", seconds: seconds)
    }

    /// Runs `body` with a receipt store on `redis` and a backend, closed afterwards.
    private static func withReceipts(on redis: TestRedis,
                                     _ body: (ReceiptStore, TestBackend, any RedisKeyspace) async throws -> Void) async throws {
        let keyspace = try await redis.keyspace()
        defer { keyspace.close() }
        let backend = try await TestBackend(on: redis)
        defer { backend.producer.shutdownBlocking() }
        try await body(ReceiptStore(redis: keyspace, keys: RedisKeys(prefix: "cg")), backend, keyspace)
    }

    @Test(arguments: TestRedis.allCases)
    func aReceiptFollowsTheMessageAndItsReportsReachTheService(on redis: TestRedis) async throws {
        try await Self.withReceipts(on: redis) { store, backend, keyspace in
            try await Self.followReceipt(on: redis, store, backend, keyspace)
        }
    }

    private static func followReceipt(on redis: TestRedis, _ store: ReceiptStore, _ backend: TestBackend,
                                      _ keyspace: any RedisKeyspace) async throws {
        let device = TestCluster.uniqueDevice("receipt")
        let admin = try KafkaAdmin(config: try await TestCluster.kafka(on: redis), logger: .init(label: "receipts"))
        try admin.createTopics([TopicSpec(name: "cg.report.echo")])
        admin.close()
        let reports = try KafkaConsumer(config: try await TestCluster.kafka(on: redis), groupID: nil, logger: .init(label: "receipts"))
        defer { reports.close() }
        try reports.assignFromEnd(topic: "cg.report.echo")

        let client = try await TestCluster.connect(device, edge: 0, autoAck: false, on: redis)
        try await Self.send(backend, to: device, id: "with", receipt: true)
        #expect(try await client.nextMessage().id == "with")
        let delivered = try #require(try await Self.receipt(store, device, "with") { $0?.state == .delivered })
        #expect(delivered.service == "echo" && delivered.edge != nil && delivered.reason == nil)
        let storedAt = try #require(delivered.storedAt), deliveredAt = try #require(delivered.deliveredAt)
        #expect(storedAt <= deliveredAt && delivered.ackedAt == nil, "it was waiting before it was delivered")

        client.ack("with")
        let acked = try #require(try await Self.receipt(store, device, "with") { $0?.state == .acked })
        #expect(acked.deliveredAt == deliveredAt && (acked.ackedAt ?? 0) >= deliveredAt)

        // Both reports, for this device, with the message's payload.
        let found = try await offload {
            var found: [ReportRecord] = []
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline && found.count < 2 {
                found += try reports.poll(maxRecords: 100, timeout: .milliseconds(200))
                    .compactMap(ReportRecord.init(record:)).filter { $0.device == device }
            }
            return found
        }
        // From two processes (router, edge), so either may reach the topic first.
        #expect(found.map(\.reason).sorted { $0.rawValue < $1.rawValue } == [.acked, .delivered])
        #expect(found.allSatisfy { $0.id == "with" && $0.payload == Array(#""with""#.utf8) && $0.service == "echo" })

        // Without the header: delivered and acked as ever, and no receipt at all.
        try await Self.send(backend, to: device, id: "without", receipt: false)
        #expect(try await client.nextMessage().id == "without")
        client.ack("without")
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await store.receipt(device: device, id: "without") == nil)
        let key = RedisKeys(prefix: "cg").receipt(device: device, id: "without")
        #expect(try await keyspace.send(["EXISTS", key], key: key).int == 0)
        await client.close()
    }

    @Test(arguments: TestRedis.allCases)
    func aMessageForAnOfflineDeviceEndsExpired(on redis: TestRedis) async throws {
        try await Self.withReceipts(on: redis) { store, backend, _ in
            let device = TestCluster.uniqueDevice("receipt-offline")
            try await Self.send(backend, to: device, id: "short", ttlSeconds: 1, receipt: true)
            let waiting = try #require(try await Self.receipt(store, device, "short") { $0 != nil })
            #expect(waiting.state == .waiting || waiting.state == .expired)
            let expired = try #require(try await Self.receipt(store, device, "short", within: 20) { $0?.state == .expired })
            #expect(expired.deliveredAt == nil && expired.ackedAt == nil && expired.expiresAt.map { $0 <= expired.updatedAt } == true)
        }
    }
}
