import ChannelClient
import DevCluster
import Foundation
import Testing

/// Parts of the gateway fail while messages flow; nothing acknowledged or published may be lost.
/// Each test runs its own cluster, one at a time (they load the machine).
@Suite(.serialized, .timeLimit(.minutes(5)))
struct FaultTests {
    @Test func killingAnEdgeLosesNothing() async throws {
        let f = try await FaultCluster.start("edge-kill")
        defer { f.stop() }
        let receivers = try await f.devices(500, name: "ek", firstEdge: 0)
        let rounds = 10
        for round in 0..<rounds {
            if round == 4 { f.cluster.edges[0].process.crash() }
            try await f.publish(round: round, to: receivers)
            try await Task.sleep(for: .milliseconds(200))
        }
        try await expectAllDelivered(receivers, rounds: rounds, scenario: "kill -9 edge-1 (500 devices)")
        #expect(receivers.allSatisfy { $0.device.connections >= 2 }, "every device reconnected")
        for r in receivers { await r.stop() }
    }

    @Test func killingARouterLosesNothing() async throws {
        let f = try await FaultCluster.start("router-kill", routers: 2)
        defer { f.stop() }
        let receivers = try await f.devices(100, name: "rk")
        let rounds = 20
        for round in 0..<rounds {
            if round == 5 { f.cluster.routers[0].crash() }
            try await f.publish(round: round, to: receivers)
            try await Task.sleep(for: .milliseconds(100))
        }
        try await expectAllDelivered(receivers, rounds: rounds, scenario: "kill -9 router-1 of 2 (100 devices)")
        for r in receivers { await r.stop() }
    }

    @Test func pausingTheBrokerAndRestartingRedisLosesNothing() async throws {
        let f = try await FaultCluster.start("outage", persistentRedis: true)
        defer { f.stop() }
        let receivers = try await f.devices(100, name: "ou")
        let senders = Array(receivers.prefix(20))
        let upstream = Upstream()
        let rounds = 12
        for round in 0..<rounds {
            for sender in senders {
                Task { await upstream.send(from: sender, id: "u-\(round)") }
            }
            if round == 3 {
                f.cluster.broker.process.signal(SIGSTOP)
                // Publishing blocks while the broker is paused; resume it from elsewhere after 10 s.
                Task.detached {
                    try? await Task.sleep(for: .seconds(10))
                    f.cluster.broker.process.signal(SIGCONT)
                }
            }
            if round == 8 { try await offload { try f.cluster.restartRedis() } }
            try await f.publish(round: round, to: receivers)
            try await Task.sleep(for: .milliseconds(200))
        }
        try await expectAllDelivered(receivers, rounds: rounds, scenario: "broker paused 10 s, Redis restarted (100 devices)", within: 120)
        try await upstream.expectEveryAckedMessageReachedTheService(senders, scenario: "broker paused 10 s, Redis restarted: device → echo")
        for component in f.cluster.routers + f.cluster.edges.map(\.process) {
            #expect(component.isRunning, "\(component.name) kept running")
        }
        for r in receivers { await r.stop() }
    }
}

/// Device → service traffic during a fault: each device sends until the edge acks (an `unavailable` error or a lost
/// connection means send it again, same id); every acked message must reach the echo service, which answers it.
actor Upstream {
    private var acked: [String: Set<String>] = [:]
    private var refusals = 0

    func send(from receiver: Receiver, id: String) async {
        for _ in 0..<60 {
            do {
                try await receiver.device.send(service: "echo", payload: .json(Array("\"\(id)\"".utf8)), id: id)
                acked[receiver.device.device, default: []].insert(id)
                return
            } catch {
                refusals += 1
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    func expectEveryAckedMessageReachedTheService(_ receivers: [Receiver], scenario: String, within seconds: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        func missing() -> Int {
            receivers.reduce(0) { total, r in
                let replies = Set(r.received)
                return total + (acked[r.device.device] ?? []).filter { !replies.contains("echo-\($0)") }.count
            }
        }
        while missing() > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(200)) }
        let ackedCount = acked.values.reduce(0) { $0 + $1.count }
        print("fault \(scenario): acked \(ackedCount), refused and resent \(refusals), reached the service \(ackedCount - missing()), lost \(missing())")
        #expect(missing() == 0, "\(scenario): acked messages that never reached the service")
        #expect(ackedCount > 0)
    }
}
