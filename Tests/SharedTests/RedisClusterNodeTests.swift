import DevCluster
import Foundation
import Lifecycle
import Testing

@testable import Infrastructure

/// Key slots and the slot map against a live cluster-mode redis-server.
@Suite("Redis Cluster node")
struct RedisClusterNodeTests {
    /// Against a real cluster-mode node: every slot it computes for 2,000 random keys (braces included), and the map
    /// read from its own `CLUSTER SLOTS` once it serves every slot.
    @Test func aClusterNodeAgreesOnSlotsAndItsSlotMapParses() async throws {
        let server = try await offload { try RedisProcess.start(clusterEnabled: true) }
        defer { RedisTestServer.stop(server) }
        let client = RedisClient(endpoint: .init(port: server.port), logger: RedisTestServer.logger)
        defer { client.close() }
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ab{}-:xyz0123".utf8)
        let keys = (0..<2_000).map { _ in (0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! } }
        let replies = await client.pipeline(bytes: keys.map { [Array("CLUSTER".utf8), Array("KEYSLOT".utf8), $0] })
        for (key, reply) in zip(keys, replies) {
            #expect(try reply.get().int.map(Int.init) == RedisKeySlot.slot(of: key), "\(String(decoding: key, as: UTF8.self))")
        }
        _ = try await client.send(["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])
        let map = try RedisSlotMap(clusterSlots: try await client.send(["CLUSTER", "SLOTS"]))
        #expect(map.coveredSlots == 16_384)
        #expect(map.primaries.map(\.port) == [server.port])
    }
}
