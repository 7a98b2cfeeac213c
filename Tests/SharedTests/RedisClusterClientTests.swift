import DevCluster
import Foundation
import Lifecycle
import Testing

@testable import Infrastructure

/// The cluster client against live cluster-mode redis-servers: routing by slot, a slot migration (ASK while it runs,
/// MOVED after), a slot without a primary, WAIT for replicas, and a primary's failover. One at a time: each starts six
/// redis-servers.
@Suite("Redis Cluster client", .serialized)
struct RedisClusterClientTests {
    private static func client(_ ports: [Int]) -> RedisClusterClient {
        RedisClusterClient(seeds: ports.map { RedisEndpoint(port: $0) }, logger: RedisTestServer.logger)
    }

    @Test func eachCommandReachesThePrimaryOfItsKeysSlot() async throws {
        let cluster = try await offload { try RedisClusterProcess.start() }
        defer { cluster.stop() }
        let client = Self.client([cluster.ports[3]])  // a replica as the only seed: the map still comes from it
        defer { client.close() }
        let keys = (0..<300).map { "cg:route:{d-\($0)}" }
        let set = await client.pipeline(keys.map { RedisCommand(["SET", $0, "v-\($0)"], key: $0) })
        #expect(set.allSatisfy { (try? $0.get()) == .status("OK") })
        let map = try #require(client.slotMap)
        #expect(map.primaries.count == 3)
        // Each key is on the primary the map names, and only there.
        for primary in map.primaries {
            let direct = RedisClient(endpoint: .init(port: primary.port), logger: RedisTestServer.logger)
            defer { direct.close() }
            let here = keys.filter { map.primary(forSlot: RedisKeySlot.slot(of: $0)) == primary }
            #expect(!here.isEmpty)
            for key in here { #expect(try await direct.send(["GET", key]).string == "v-\(key)") }
        }
        #expect(try await client.send(["GET", keys[7]], key: keys[7]).string == "v-\(keys[7])")
    }

    @Test func aSlotMigrationIsFollowedWithAskWhileItRunsAndMovedAfter() async throws {
        let cluster = try await offload { try RedisClusterProcess.start() }
        defer { cluster.stop() }
        let client = Self.client(cluster.ports)
        defer { client.close() }
        let map = try await client.refreshSlotMap()
        let key = "cg:mbox:{moving}"
        let slot = RedisKeySlot.slot(of: key)
        let source = try #require(map.primary(forSlot: slot))
        let target = try #require(map.primaries.first { $0 != source })
        let (sourceID, targetID) = (try #require(source.id), try #require(target.id))
        let admin = { (node: RedisSlotMap.Node) in RedisClient(endpoint: .init(port: node.port), logger: RedisTestServer.logger) }
        let (from, to) = (admin(source), admin(target))
        defer { from.close(); to.close() }

        // While the slot migrates, a key not on the source yet is asked for at the target.
        _ = try await to.send(["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", sourceID])
        _ = try await from.send(["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", targetID])
        #expect(try await client.send(["SET", key, "during"], key: key) == .status("OK"))
        #expect(try await to.send(["ASKING"]) == .status("OK"))
        #expect(try await to.send(["GET", key]).string == "during", "written at the target, behind ASKING")
        #expect(client.slotMap?.primary(forSlot: slot) == source, "ASK keeps the map")

        // Once the slot belongs to the target, the stale map is refreshed on MOVED.
        for node in map.primaries {
            let c = admin(node)
            _ = try await c.send(["CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID])
            c.close()
        }
        #expect(try await client.send(["GET", key], key: key).string == "during")
        #expect(client.slotMap?.primary(forSlot: slot)?.port == target.port, "MOVED refreshed the map")
    }

    @Test func aSlotWithoutAPrimaryFailsAtOnceNamingTheSlot() async throws {
        let server = try await offload { try RedisProcess.start(clusterEnabled: true) }
        defer { RedisTestServer.stop(server) }
        let setup = RedisClient(endpoint: .init(port: server.port), logger: RedisTestServer.logger)
        defer { setup.close() }
        _ = try await setup.send(["CLUSTER", "ADDSLOTSRANGE", "0", "8191"])  // half the slots: the rest have no primary
        let client = Self.client([server.port])
        defer { client.close() }
        let uncovered = (0..<100).map { "k\($0)" }.first { RedisKeySlot.slot(of: $0) > 8191 }!
        let error = await #expect(throws: RedisError.self) { try await client.send(["GET", uncovered], key: uncovered) }
        #expect(error?.message == "Redis Cluster slot \(RedisKeySlot.slot(of: uncovered)) has no primary (cluster down or still forming)")
    }

    /// WAIT on each primary written to: met while the replicas follow, a clear error once one is paused.
    @Test func replicationIsAwaitedOnEveryPrimaryWrittenTo() async throws {
        let cluster = try await offload { try RedisClusterProcess.start() }
        defer { cluster.stop() }
        let client = Self.client(cluster.ports)
        defer { client.close() }
        let keys = (0..<30).map { Array("cg:mbox:{r-\($0)}".utf8) }
        _ = await client.pipeline(keys.map { RedisCommand([Array("SET".utf8), $0, [1]], key: $0) })
        try await client.awaitReplication(of: keys, replicas: 1, timeout: .seconds(2))

        let map = try #require(client.slotMap)
        let paused = try #require(map.ranges.first?.replicas.first)
        let process = try #require(cluster.nodes.first { $0.port == paused.port }).process
        process.signal(SIGSTOP)
        defer { process.signal(SIGCONT) }
        _ = await client.pipeline(keys.map { RedisCommand([Array("SET".utf8), $0, [2]], key: $0) })
        let error = await #expect(throws: RedisError.self) {
            try await client.awaitReplication(of: keys, replicas: 1, timeout: .milliseconds(500))
        }
        #expect(error?.message.contains("of 1 replicas of 127.0.0.1:\(map.ranges[0].primary.port) acknowledged") == true, "\(error?.message ?? "")")
    }

    /// kill -9 of a primary: its replica is promoted, and the client reaches it once the caller retries.
    @Test func afterAPrimaryIsKilledItsPromotedReplicaIsReached() async throws {
        let cluster = try await offload { try RedisClusterProcess.start() }
        defer { cluster.stop() }
        let client = Self.client(cluster.ports)
        defer { client.close() }
        let key = "cg:route:{failover}"
        #expect(try await client.send(["SET", key, "before"], key: key) == .status("OK"))
        try await client.awaitReplication(of: [Array(key.utf8)], replicas: 1, timeout: .seconds(2))
        let map = try #require(client.slotMap)
        let range = try #require(map.ranges.first { $0.slots.contains(RedisKeySlot.slot(of: key)) })
        try #require(cluster.nodes.first { $0.port == range.primary.port }).process.crash()
        let started = Date()
        var value: String?
        while value == nil && Date().timeIntervalSince(started) < 20 {
            value = try? await client.send(["GET", key], key: key).string
            if value == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        print("redis cluster: the key was readable again \(String(format: "%.1f", Date().timeIntervalSince(started))) s after its primary was killed")
        #expect(value == "before", "the acknowledged write survived the failover")
        #expect(client.slotMap?.primary(forSlot: RedisKeySlot.slot(of: key))?.port == range.replicas.first?.port)
    }

    /// Scripts run on the primary of their first key: EVALSHA, EVAL after NOSCRIPT (a flushed node), and EVAL behind
    /// ASKING for a slot that is migrating.
    @Test func scriptsRunOnTheirKeysPrimaryAfterAFlushAndDuringAMigration() async throws {
        let cluster = try await offload { try RedisClusterProcess.start() }
        defer { cluster.stop() }
        let client = Self.client(cluster.ports)
        defer { client.close() }
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        let keys = (0..<60).map { Array("cg:n:{s-\($0)}".utf8) }
        let calls = keys.map { RedisScript.ByteInvocation(keys: [$0], args: [Array("2".utf8)]) }
        #expect(await client.run(script, byteInvocations: calls).map { try? $0.get().int } == Array(repeating: 2, count: 60))

        let map = try #require(client.slotMap)
        for node in map.primaries {
            let direct = RedisClient(endpoint: .init(port: node.port), logger: RedisTestServer.logger)
            _ = try await direct.send(["SCRIPT", "FLUSH"])
            direct.close()
        }
        #expect(await client.run(script, byteInvocations: calls).map { try? $0.get().int } == Array(repeating: 4, count: 60))

        let key = Array("cg:n:{migrating}".utf8)
        let slot = RedisKeySlot.slot(of: key)
        let source = try #require(map.primary(forSlot: slot))
        let target = try #require(map.primaries.first { $0 != source })
        let (from, to) = (RedisClient(endpoint: .init(port: source.port), logger: RedisTestServer.logger),
                          RedisClient(endpoint: .init(port: target.port), logger: RedisTestServer.logger))
        defer { from.close(); to.close() }
        _ = try await to.send(["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", try #require(source.id)])
        _ = try await from.send(["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", try #require(target.id)])
        let during = await client.run(script, byteInvocations: [.init(keys: [key], args: [Array("5".utf8)])] + calls.prefix(3))
        #expect(during.map { try? $0.get().int } == [5, 6, 6, 6])
        #expect(try await to.send(["ASKING"]) == .status("OK"))
        #expect(try await to.send(["GET", "cg:n:{migrating}"]).int == 5, "run at the importing node")
    }
}
