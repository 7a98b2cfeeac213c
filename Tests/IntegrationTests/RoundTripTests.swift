import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Shared
import Testing

/// The user stories of the spine, through real processes, Kafka (Tansu) and Redis.
@Suite(.timeLimit(.minutes(3)))
struct RoundTripTests {
    @Test(arguments: TestRedis.allCases, [0, 1])
    func echoComesBackThroughKafkaRouterAndRedis(on redis: TestRedis, edge: Int) async throws {
        let device = TestCluster.uniqueDevice("echo")
        let client = try await TestCluster.connect(device, edge: edge, on: redis)
        let body = #"{"text":"hello","n":[1,2,3],"nested":{"ok":true}}"#
        let id = try await client.send(service: "echo", json: body)
        let reply = try await client.nextMessage()
        #expect(reply.service == "echo")
        #expect(reply.id == "echo-\(id)")
        #expect(reply.payload == .json(Array(body.utf8)), "the payload keeps the device's exact bytes")
        await client.close()
    }

    @Test(arguments: TestRedis.allCases)
    func binaryPayloadsRoundTripUnchanged(on redis: TestRedis) async throws {
        let client = try await TestCluster.connect(TestCluster.uniqueDevice("bin"), edge: 0, on: redis)
        let bytes: [UInt8] = (0...255).map { UInt8($0) }
        try await client.send(service: "echo", payload: .binary(bytes))
        #expect(try await client.nextMessage().payload == .binary(bytes))
        await client.close()
    }

    @Test(arguments: TestRedis.allCases)
    func perDeviceOrderIsKept(on redis: TestRedis) async throws {
        let client = try await TestCluster.connect(TestCluster.uniqueDevice("order"), edge: 1, on: redis)
        for i in 0..<20 { try await client.send(service: "echo", json: "\(i)", id: "o-\(i)") }
        var seen: [String] = []
        for _ in 0..<20 { seen.append(try await client.nextMessage().id) }
        #expect(seen == (0..<20).map { "echo-o-\($0)" })
        await client.close()
    }

    @Test(arguments: TestRedis.allCases)
    func backendMessageReachesTheEdgeHoldingTheDeviceAndFollowsItToAnotherEdge(on redis: TestRedis) async throws {
        let a = TestCluster.uniqueDevice("a")
        let b = TestCluster.uniqueDevice("b")
        let backend = try await TestBackend(on: redis)
        let deviceA = try await TestCluster.connect(a, edge: 0, on: redis)
        var deviceB = try await TestCluster.connect(b, edge: 1, on: redis)

        try await backend.send(to: b, id: "n-1", json: #"{"for":"b","n":1}"#)
        let first = try await deviceB.nextMessage()
        #expect(first.id == "n-1" && first.payload == .json(Array(#"{"for":"b","n":1}"#.utf8)))
        // The edge deletes acks in batches (a few ms): a device that reconnects before its ack is applied is sent the
        // message again (at least once; clients drop it by id). Here the ack must be applied first, and soon.
        let mailbox = Mailbox(redis: try await redis.keyspace(), prefix: "cg")
        let deadline = ContinuousClock.now + .seconds(5)
        while try await mailbox.depth(device: b).count > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(try await mailbox.depth(device: b).count == 0, "the ack of n-1 emptied B's mailbox")

        await deviceB.close()
        deviceB = try await TestCluster.connect(b, edge: 0, on: redis)
        try await backend.send(to: b, id: "n-2", json: #"{"for":"b","n":2}"#)
        let second = try await deviceB.nextMessage()
        #expect(second.id == "n-2", "the next message follows B to edge 1")

        try await backend.send(to: a, id: "n-3", json: #""for a""#)
        #expect(try await deviceA.nextMessage().id == "n-3", "A, on the same edge, gets only its own")
        await deviceA.close()
        await deviceB.close()
        backend.producer.shutdownBlocking()
    }

    @Test(arguments: TestRedis.allCases)
    func takeoverOnAnotherEdgeSurvivesTheOldConnectionClosingLate(on redis: TestRedis) async throws {
        let device = TestCluster.uniqueDevice("takeover")
        let backend = try await TestBackend(on: redis)
        let old = try await TestCluster.connect(device, edge: 0, on: redis)
        let new = try await TestCluster.connect(device, edge: 1, on: redis)
        // The old connection ends after the new one registered: its compare-and-delete must not erase the new route.
        await old.close()
        try await Task.sleep(for: .milliseconds(300))
        try await backend.send(to: device, id: "after-takeover", json: "1")
        #expect(try await new.nextMessage().id == "after-takeover")
        await new.close()
        backend.producer.shutdownBlocking()
    }
}

/// What the edge leaves in Redis, read back with the registry.
@Suite(.timeLimit(.minutes(2)))
struct RegistryStateTests {
    func registry(on redis: TestRedis) async throws -> (DeviceRegistry, any RedisKeyspace) {
        let keyspace = try await redis.keyspace()
        return (DeviceRegistry(redis: keyspace, prefix: "cg"), keyspace)
    }

    func eventually(_ what: String, _ condition: @escaping @Sendable () async throws -> Bool) async throws {
        try await within(10, what) {
            while try await !condition() { try await Task.sleep(for: .milliseconds(50)) }
        }
    }

    @Test(arguments: TestRedis.allCases, ["device closes", "edge closes after a protocol violation"])
    func routeIsReleasedWhenTheConnectionEnds(on redis: TestRedis, how: String) async throws {
        let (registry, keyspace) = try await registry(on: redis)
        defer { keyspace.close() }
        let device = TestCluster.uniqueDevice("leaves")
        let client = try await TestCluster.connect(device, edge: 0, on: redis)
        guard case .online(let route) = try await registry.lookup(device: device) else {
            Issue.record("no route while connected"); return
        }
        #expect(route.edge == "edge-1")
        if how == "device closes" {
            await client.close()
        } else {
            client.send(frame: .hello(Hello(device: device, token: "again")))
            #expect(try await client.closeCode() == CloseCode.protocolViolation.rawValue)
        }
        try await eventually("the route to be released") { try await registry.lookup(device: device) == .noRoute }
    }
}
