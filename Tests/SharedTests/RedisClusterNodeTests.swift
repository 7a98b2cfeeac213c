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

    /// A local 3+3 cluster forms, its slot map parses, and a node asked for a key it does not serve redirects to the
    /// primary the map names.
    @Test func aLocalClusterFormsAndRedirectsToThePrimaryItsMapNames() async throws {
        let cluster = try await offload { try RedisClusterProcess.start() }
        defer { cluster.stop() }
        let first = RedisClient(endpoint: .init(port: cluster.ports[0]), logger: RedisTestServer.logger)
        defer { first.close() }
        let map = try RedisSlotMap(clusterSlots: try await first.send(["CLUSTER", "SLOTS"]))
        #expect(map.coveredSlots == 16_384)
        #expect(map.primaries.count == 3)
        #expect(map.ranges.allSatisfy { $0.replicas.count == 1 })
        // A key whose slot another primary serves.
        let key = (0..<1_000).map { "k\($0)" }.first { map.primary(forSlot: RedisKeySlot.slot(of: $0))?.port != cluster.ports[0] }!
        let error = await #expect(throws: RedisError.self) { try await first.send(["SET", key, "v"]) }
        let redirect = try #require(RedisRedirect(errorMessage: error?.message ?? ""))
        #expect(redirect.kind == .moved && redirect.slot == RedisKeySlot.slot(of: key))
        #expect(redirect.node.port == map.primary(forSlot: redirect.slot)?.port)
    }
}
