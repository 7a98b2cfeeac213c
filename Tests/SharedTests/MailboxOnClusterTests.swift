import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Testing
@testable import Shared

/// The mailbox and the registry on a live Redis Cluster (three primaries, a replica each): every script stays in its
/// slot, the expiry index shards spread over the primaries, a sweep takes each entry once, and a store is refused
/// when replicas do not confirm it. One at a time, like the cluster client's tests: each starts six redis-servers.
@Suite("Mailbox on Redis Cluster", .serialized)
struct MailboxOnClusterTests {
    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private static func entry(_ id: String, expiresInMs: Int64 = 60_000) -> MailboxEntry {
        MailboxEntry(seq: 0, id: id, service: "echo", contentType: "text/plain", expiresAtMs: nowMs() + expiresInMs,
                     payload: Array("p-\(id)".utf8))
    }

    @Test func storeReadAckSweepAndRoutesWorkAcrossThePrimaries() async throws {
        let cluster = try await offload { try RedisClusterProcess.start() }
        defer { cluster.stop() }
        let redis = RedisClusterClient(seeds: cluster.ports.map { RedisEndpoint(port: $0) }, logger: RedisTestServer.logger,
                                       durability: RedisDurability(replicas: 1, timeout: .seconds(2)))
        defer { redis.close() }
        try await offload { try redis.checkReachable() }
        let mailbox = Mailbox(redis: redis, prefix: "t")
        let registry = DeviceRegistry(redis: redis, prefix: "t")
        let map = try #require(redis.slotMap)

        // The index shards are on more than one primary, as the devices are.
        let shardPrimaries = Set(RedisKeys(prefix: "t").expiryIndexShards.compactMap { map.primary(forSlot: RedisKeySlot.slot(of: $0))?.port })
        #expect(shardPrimaries.count == 3)

        // Routes for half the devices, then two messages for each of 300 devices in one batch (with WAIT).
        let devices = (0..<300).map { "dev-\($0)" }
        try await registry.heartbeat(edge: "e1")
        for device in devices.prefix(150) { _ = try await registry.claim(device: device, edge: "e1", session: "s-\(device)") }
        let items = devices.flatMap { device in [(device: device, entry: Self.entry("a")), (device: device, entry: Self.entry("b"))] }
        let stored = try await offload { try mailbox.storeAndRouteBlocking(items) }
        #expect(stored.allSatisfy { if case .stored = $0.result { true } else { false } })
        #expect(stored.enumerated().allSatisfy { ($0.element.route != nil) == ($0.offset < 300) }, "the route is read in the store script")
        #expect(try await mailbox.totalEntries() == 600)

        for device in devices {
            let read = try await mailbox.read(device: device, after: 0, limit: 10)
            #expect(read.entries.map(\.id) == ["a", "b"])
        }
        #expect(try await mailbox.ack(devices.map { (device: $0, id: "a") }) == 300)
        #expect(try await mailbox.totalEntries() == 300)
        // The edge's liveness again: on a loaded machine the steps above may outlast the first heartbeat's TTL.
        try await registry.heartbeat(edge: "e1")
        let looked = try await offload { try registry.lookupBlocking(devices: Array(devices.prefix(160))) }
        #expect(looked.prefix(150).allSatisfy { if case .online = $0 { true } else { false } })
        #expect(looked.suffix(10).allSatisfy { $0 == .noRoute })

        // Expiry: 200 short-lived entries over 100 devices, swept by two sweepers at once, each entry exactly once.
        let short = devices.prefix(100).flatMap { device in
            [(device: device, entry: Self.entry("x", expiresInMs: 500)), (device: device, entry: Self.entry("y", expiresInMs: 500))]
        }
        _ = try await offload { try mailbox.storeBlocking(short) }
        try await Task.sleep(for: .milliseconds(800))
        let other = RedisClusterClient(seeds: [RedisEndpoint(port: cluster.ports[0])], logger: RedisTestServer.logger)
        defer { other.close() }
        let swept = try await sweepAtOnce([mailbox, Mailbox(redis: other, prefix: "t")], limit: 25) { $0.id }.flatMap { $0 }
        #expect(swept.count == 200)
        #expect(Set(swept) == Set(short.map { "\($0.device)|\($0.entry.id)" }))
        #expect(try await mailbox.totalEntries() == 300)
        #expect(try await mailbox.read(device: "dev-7", after: 0, limit: 10).entries.map(\.id) == ["b"])
    }

    @Test func aStoreTheReplicasDoNotConfirmIsRefused() async throws {
        let cluster = try await offload { try RedisClusterProcess.start() }
        defer { cluster.stop() }
        let redis = RedisClusterClient(seeds: [RedisEndpoint(port: cluster.ports[0])], logger: RedisTestServer.logger,
                                       durability: RedisDurability(replicas: 1, timeout: .milliseconds(300)))
        defer { redis.close() }
        try await offload { try redis.checkReachable() }
        let mailbox = Mailbox(redis: redis, prefix: "t")
        let items = (0..<30).map { (device: "d-\($0)", entry: Self.entry("m")) }
        _ = try await offload { try mailbox.storeBlocking(items) }

        // Every replica paused: the writes land on the primaries, but no replica confirms them.
        let replicas = try #require(redis.slotMap).ranges.flatMap(\.replicas).map(\.port)
        let paused = cluster.nodes.filter { replicas.contains($0.port) }
        #expect(paused.count == 3)
        paused.forEach { $0.process.signal(SIGSTOP) }
        defer { paused.forEach { $0.process.signal(SIGCONT) } }
        let more = (0..<30).map { (device: "d-\($0)", entry: Self.entry("n")) }
        let error = await #expect(throws: RedisError.self) { try await offload { try mailbox.storeBlocking(more) } }
        #expect(error?.message.contains("replicas") == true, "\(error?.message ?? "")")
        paused.forEach { $0.process.signal(SIGCONT) }
        // Stored again once the replicas are back: the same ids are duplicates, now confirmed.
        let again = try await offload { try mailbox.storeBlocking(more) }
        #expect(again.allSatisfy { if case .duplicate = $0 { true } else { false } })
    }
}
