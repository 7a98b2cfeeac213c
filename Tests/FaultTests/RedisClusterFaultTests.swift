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
        let client = try f.redisClusterClient()
        defer { client.close() }
        let map = try await client.refreshSlotMap()
        let keys = RedisKeys(prefix: "cg")
        let slotOf = { (device: String) in RedisKeySlot.slot(of: keys.mailbox(device)) }
        let victimSlot = slotOf("rf-0")
        let victim = try #require(map.primary(forSlot: victimSlot))

        let load = try await TwoWayLoad(f, name: "rf")
        let share = load.receivers.filter { map.primary(forSlot: slotOf($0.device.device))?.port == victim.port }.count
        let readiness = try ["edge-1", "router-1"].map { try #require(f.cluster.adminURL($0)) + "/readyz" }
        var promotion = Task<Double?, any Error> { nil }
        var watching = Task<[String], Never> { [] }
        try await load.run(f, faultRound: 3) {
            try #require(redis.nodes.first { $0.port == victim.port }).process.crash()
            let killed = Date()
            // Readiness asks for the slot map, not every primary: a failover must not take every component out of
            // service at once.
            watching = Task {
                var refusals: [String] = []
                while Date().timeIntervalSince(killed) < 8 {
                    for url in readiness {
                        if let (status, body) = await AdminProbe.get(url), status != 200, body.contains("redis") { refusals.append("\(url): \(body)") }
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
                return refusals
            }
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
        let promotedAfter = try await promotion.value
        print("fault redis failover: \(share) of 1000 devices' mailboxes on the killed primary; a replica took its slots \(promotedAfter.map { String(format: "%.1f s", $0) } ?? "never") after kill -9")
        #expect(promotedAfter != nil, "a replica was promoted")
        let refusals = await watching.value
        #expect(refusals.isEmpty, "readiness stayed up through the failover: \(refusals.prefix(3))")
        try await load.expectNothingLost("kill -9 of a Redis Cluster primary holding \(share) of 1000 mailboxes")
        try await f.expectEveryComponentRunningAndReady()
    }

    /// `redis-cli --cluster reshard` moves 2,000 slots (and the mailboxes in them) from one primary to another while
    /// messages flow: the components follow ASK during each slot's migration and MOVED after it, and nothing is lost.
    @Test func reshardingUnderLoadLosesNothing() async throws {
        let f = try await FaultCluster.start("redis-reshard", redisCluster: true)
        defer { f.stop() }
        let client = try f.redisClusterClient()
        defer { client.close() }
        let before = try await client.refreshSlotMap()
        let source = try #require(before.ranges.first?.primary)
        let target = try #require(before.primaries.first { $0.port != source.port })
        let cli = try #require(LocalProcess.find("redis-cli"))

        let load = try await TwoWayLoad(f, name: "rr")
        var reshard: Task<(status: Int32, output: String, seconds: Double), any Error>?
        try await load.run(f, faultRound: 2) {
            reshard = Task {
                let started = Date()
                let run = try await offload {
                    try LocalProcess.runToEnd(cli, ["--cluster", "reshard", "127.0.0.1:\(source.port)",
                                                    "--cluster-from", source.id ?? "", "--cluster-to", target.id ?? "",
                                                    "--cluster-slots", "2000", "--cluster-yes"])
                }
                return (run.status, run.output, Date().timeIntervalSince(started))
            }
        }
        let moved = try #require(try await reshard?.value)
        #expect(moved.status == 0, "redis-cli --cluster reshard: \(moved.output.suffix(500))")
        let after = try await client.refreshSlotMap()
        let movedSlots = before.ranges.filter { $0.primary.port == source.port }.flatMap { Array($0.slots) }
            .filter { after.primary(forSlot: $0)?.port == target.port }.count
        print("fault redis reshard: \(movedSlots) slots moved from \(source) to \(target) in \(String(format: "%.1f", moved.seconds)) s while 1000 devices received")
        #expect(movedSlots == 2000)
        try await load.expectNothingLost("redis-cli --cluster reshard of 2000 slots under load")
    }

    /// Every primary stops answering for 5 s (SIGSTOP), longer than the router's replica timeout: batches whose writes
    /// no replica confirmed are not committed and are routed again, so nothing is lost once they answer again.
    @Test func pausingEveryRedisPrimaryLosesNothing() async throws {
        let f = try await FaultCluster.start("redis-pause", redisCluster: true)
        defer { f.stop() }
        let redis = try #require(f.cluster.redisCluster)
        let client = try f.redisClusterClient()
        defer { client.close() }
        let primaries = Set(try await client.refreshSlotMap().primaries.map(\.port))
        let paused = redis.nodes.filter { primaries.contains($0.port) }
        #expect(paused.count == 3)

        let load = try await TwoWayLoad(f, name: "rp")
        try await load.run(f, faultRound: 3) {
            paused.forEach { $0.process.signal(SIGSTOP) }
            Task.detached {
                try? await Task.sleep(for: .seconds(5))
                paused.forEach { $0.process.signal(SIGCONT) }
            }
        }
        try await load.expectNothingLost("every Redis Cluster primary paused 5 s under load")
        // No replica took over: a failover needs a majority of primaries, and all of them were paused.
        #expect(Set(try await client.refreshSlotMap().primaries.map(\.port)) == primaries)
        try await f.expectEveryComponentRunningAndReady()
    }
}

/// The load of each Redis Cluster fault test: 1,000 devices receiving ten rounds, 50 of them also sending to echo.
private struct TwoWayLoad {
    static let rounds = 10
    let receivers: [Receiver]
    let senders: [Receiver]
    let upstream = Upstream()

    init(_ f: FaultCluster, name: String) async throws {
        receivers = try await f.devices(1000, name: name)
        senders = Array(receivers.prefix(50))
    }

    /// Runs the rounds, with `fault` at the start of round `faultRound`.
    func run(_ f: FaultCluster, faultRound: Int, fault: () async throws -> Void) async throws {
        for round in 0..<Self.rounds {
            upstream.startRound(round, from: senders)
            if round == faultRound { try await fault() }
            try await f.publish(round: round, to: receivers)
            try await Task.sleep(for: .milliseconds(300))
        }
    }

    /// Every message reached its device, in order, and every acked device message reached echo; then the devices stop.
    func expectNothingLost(_ scenario: String) async throws {
        try await expectAllDelivered(receivers, rounds: Self.rounds, scenario: scenario, within: 120)
        try await upstream.expectEveryAckedMessageReachedTheService(senders, scenario: "\(scenario): device → echo")
        for r in receivers { await r.stop() }
    }
}
