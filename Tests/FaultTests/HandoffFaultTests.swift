import ChannelClient
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

/// The router → edge hand-off fails while messages flow (docs/handoff.md): nothing stored may be lost, and each
/// device gets its messages in order. In the serialized `FaultTests` suite: these load the machine too.
extension FaultTests {
    /// An edge that stops answering mid-stream (SIGSTOP for 5 s): the router's hand-offs time out, it reconnects and
    /// sends the unacked batches again once the edge runs, and the edge skips what it already had.
    @Test func anEdgePausedMidStreamLosesNothingAndKeepsOrder() async throws {
        let f = try await FaultCluster.start("handoff-pause")
        defer { f.stop() }
        let receivers = try await f.devices(1_000, name: "hp", firstEdge: 0)
        let edge = f.cluster.edges[0].process
        let rounds = 12
        for round in 0..<rounds {
            if round == 3 { edge.signal(SIGSTOP) }
            if round == 8 { edge.signal(SIGCONT) }
            try await f.publish(round: round, to: receivers)
            try await Task.sleep(for: .milliseconds(round >= 3 && round < 8 ? 1_000 : 200))
        }
        edge.signal(SIGCONT)
        try await expectAllDelivered(receivers, rounds: rounds, scenario: "SIGSTOP edge-1 for 5 s (1000 devices)")
        for r in receivers { await r.stop() }
    }

    /// An edge paused for longer than the router's give-up time, with messages for its devices published only during
    /// the pause: the router gives up on those notices (and commits), then sends them once more when the same edge
    /// process answers again, so devices that stayed connected get them without a later notice or a reconnect.
    @Test func noticesGivenUpOnAreSentAgainWhenTheSameEdgeAnswers() async throws {
        let f = try await FaultCluster.start("handoff-overdue", routerArguments: ["--handoff-timeout", "2"])
        defer { f.stop() }
        let receivers = try await f.devices(300, name: "ho", firstEdge: 0)
        let edge = f.cluster.edges[0].process
        try await f.publish(round: 0, to: receivers)
        try await expectAllDelivered(receivers, rounds: 1, scenario: "before the pause")
        edge.signal(SIGSTOP)
        // Round 1's notices reach the paused edge's socket buffer, and it reads them when it runs again. After 2 s
        // without an ack the router drops that connection, and a new one gets no welcome: rounds 2 and 3 are never
        // written to the edge, are given up 2 s later, and can only come again from the router.
        try await f.publish(round: 1, to: receivers)
        try await Task.sleep(for: .milliseconds(2_500))
        for round in 2..<4 { try await f.publish(round: round, to: receivers) }
        try await Task.sleep(for: .seconds(4))
        edge.signal(SIGCONT)
        try await expectAllDelivered(receivers, rounds: 4, scenario: "SIGSTOP edge-1 past the give-up time (300 devices)", within: 30)
        #expect(receivers.allSatisfy { $0.device.connections == 1 }, "the devices stayed connected: the notices came again")
        for r in receivers { await r.stop() }
    }

    /// An edge killed and restarted at once under the same id, while notices for its devices are on their way: the
    /// notices meant for the old process name sessions the new one never had, so they are dropped there, and every
    /// device gets everything from its mailbox when it reconnects (to either edge).
    @Test func anEdgeKilledAndRestartedUnderItsIdLosesNothing() async throws {
        let f = try await FaultCluster.start("handoff-restart")
        defer { f.stop() }
        let receivers = try await f.devices(500, name: "hr", firstEdge: 0)
        let rounds = 10
        for round in 0..<rounds {
            try await f.publish(round: round, to: receivers)
            if round == 4 {
                f.cluster.edges[0].process.crash()
                let (id, port, _) = f.cluster.edges[0]
                try await offload { try f.cluster.startEdge(id: id, port: port, wait: true) }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        try await expectAllDelivered(receivers, rounds: rounds, scenario: "kill -9 edge-1 and restart it under its id (500 devices)")
        #expect(receivers.allSatisfy { $0.device.connections >= 2 }, "every device reconnected")
        for r in receivers { await r.stop() }
    }

    /// A router killed after it stored a batch and before the edge acked its notices (the edge is paused, so the
    /// hand-off cannot finish): the batch was never committed, the other router routes it again, finds the messages
    /// already stored (same seqs) and hands them off once the edge runs again.
    @Test func aRouterKilledBetweenTheMailboxWriteAndTheHandoffLosesNothing() async throws {
        let f = try await FaultCluster.start("handoff-router-kill", routers: 2)
        defer { f.stop() }
        let receivers = try await f.devices(200, name: "hk", firstEdge: 0)
        let edge = f.cluster.edges[0].process
        let rounds = 8
        for round in 0..<rounds {
            if round == 3 { edge.signal(SIGSTOP) }
            try await f.publish(round: round, to: receivers)
            if round == 4 {
                // Both routers have stored what they got by now and wait for the paused edge's acks.
                try await Task.sleep(for: .milliseconds(1_000))
                f.cluster.routers[0].crash()
                edge.signal(SIGCONT)
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        edge.signal(SIGCONT)
        try await expectAllDelivered(receivers, rounds: rounds, scenario: "kill -9 router-1 while edge-1 is paused (200 devices)")
        for r in receivers { await r.stop() }
    }
}

/// Edges come and go without leaving Kafka topics behind: the number of topics does not depend on the edges.
extension FaultTests {
    @Test func twentyEdgesStartedAndStoppedCreateNoTopic() async throws {
        let f = try await FaultCluster.start("edge-fleet")
        defer { f.stop() }
        let admin = try KafkaAdmin(config: KafkaConfig(bootstrapServers: f.cluster.broker.bootstrap), logger: .init(label: "topics"))
        defer { admin.close() }
        let before = Set(try admin.topicNames())
        for i in 0..<20 {
            let id = "edge-fleet-\(i)"
            // Below the kernel's ephemeral range, chosen just before use, like the cluster's own ports.
            let port = try FreePort.consecutive(1, from: 10_000 + Int.random(in: 0..<20_000))
            let process = try await offload { try f.cluster.startEdge(id: id, port: port, wait: true) }
            // Not its exit status: a SIGTERM in the moment between "ready" and the lifecycle's signal handlers ends
            // the process by the signal (issue 13's one-lifecycle work).
            process.stop()
        }
        let after = Set(try admin.topicNames())
        print("fault edge fleet: topics before \(before.sorted()), after 20 edges \(after.sorted())")
        #expect(after == before, "topics created by edges that came and went: \(after.subtracting(before).sorted())")
        #expect(!after.contains { $0.contains(".edge.") })
    }
}
