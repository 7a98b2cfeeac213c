import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

/// Redis Cluster primaries fail while messages flow both ways (1,000 devices receiving, 50 of them sending to echo).
/// In the serialized `FaultTests` suite: each starts six redis-servers and loads the machine.
extension FaultTests {
    /// kill -9 of the primary holding a share of the mailboxes: its replica is promoted, the components follow it, and
    /// the killed node comes back (as an orchestrator would restart it) as the new primary's replica. The router
    /// commits a batch only once a replica confirmed it (min replicas 1, the cluster default), so nothing the gateway
    /// acknowledged may be lost, and each device's order must hold.
    @Test func killingARedisClusterPrimaryUnderLoadLosesNothing() async throws {
        let f = try await FaultCluster.start("redis-failover", redisCluster: true)
        defer { f.stop() }
        let redis = try #require(f.cluster.redisCluster)
        let client = RedisClusterClient(seeds: redis.ports.map { RedisEndpoint(port: $0) }, logger: .init(label: "fault-map"))
        defer { client.close() }
        let map = try await client.refreshSlotMap()
        let keys = RedisKeys(prefix: "cg")
        let slotOf = { (device: String) in RedisKeySlot.slot(of: keys.mailbox(device)) }
        let victim = try #require(map.primary(forSlot: slotOf("rf-0")))
        let victimSlot = slotOf("rf-0")

        let receivers = try await f.devices(1000, name: "rf")
        let share = receivers.filter { map.primary(forSlot: slotOf($0.device.device))?.port == victim.port }.count
        let senders = Array(receivers.prefix(50))
        let upstream = Upstream()
        let rounds = 10
        let failover = Task<Double?, any Error> { nil }
        var promotion = failover
        for round in 0..<rounds {
            upstream.startRound(round, from: senders)
            if round == 3 {
                try #require(redis.nodes.first { $0.port == victim.port }).process.crash()
                let killed = Date()
                // Once a replica took the slots over, the killed node is started again and rejoins as its replica.
                promotion = Task {
                    while Date().timeIntervalSince(killed) < 30 {
                        if let primary = try? await client.refreshSlotMap().primary(forSlot: victimSlot), primary.port != victim.port {
                            let after = Date().timeIntervalSince(killed)
                            try await offload { try redis.restart(port: victim.port) }
                            return after
                        }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return nil
                }
            }
            try await f.publish(round: round, to: receivers)
            try await Task.sleep(for: .milliseconds(300))
        }
        let promotedAfter = try await promotion.value
        print("fault redis failover: \(share) of 1000 devices' mailboxes on the killed primary; a replica took its slots \(promotedAfter.map { String(format: "%.1f s", $0) } ?? "never") after kill -9")
        #expect(promotedAfter != nil, "a replica was promoted")
        let scenario = "kill -9 of a Redis Cluster primary holding \(share) of 1000 mailboxes"
        try await expectAllDelivered(receivers, rounds: rounds, scenario: scenario, within: 120)
        try await upstream.expectEveryAckedMessageReachedTheService(senders, scenario: "\(scenario): device → echo")
        for component in f.cluster.routers + f.cluster.edges.map(\.process) + [f.cluster.echoService].compactMap({ $0 }) {
            #expect(component.isRunning, "\(component.name) kept running")
        }
        for name in ["edge-1", "edge-2", "router-1", "echo"] {
            try await AdminProbe.waitFor(try #require(f.cluster.adminURL(name)) + "/readyz", status: 200, within: 30)
        }
        for r in receivers { await r.stop() }
    }
}
