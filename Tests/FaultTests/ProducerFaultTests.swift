import DevCluster
import Foundation
import Lifecycle
import Testing

/// Producers and consumers against a broker that stops answering (issue 16): a producer the broker fenced is replaced
/// and its component ready again, saying so in its metrics; a router that stops while its batches wait for a paused
/// edge stays in its consumer group until it has committed them.
extension FaultTests {
    /// The broker paused for 15 s, past the edge's 10 s message timeout: Tansu then fences the edge's idempotent
    /// producer. Every component's `/readyz` has a producer check and each producer's metrics are served; the edge that
    /// was fenced counts a replacement, is no longer failed, and is ready again.
    @Test func aFencedProducerIsReplacedAndItsComponentReportsItAndIsReadyAgain() async throws {
        let f = try await FaultCluster.start("producer-fenced")
        defer { f.stop() }
        let senders = try await f.devices(20, name: "pf")
        let upstream = Upstream()
        for round in 0..<6 {
            upstream.startRound(round, from: senders)
            if round == 1 {
                // Something acked before the outage, however slowly a loaded machine brought the cluster up.
                let deadline = ContinuousClock.now + .seconds(20)
                while await upstream.ackedCount == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
                f.pauseBroker(for: .seconds(15))
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        try await upstream.expectEveryAckedMessageReachedTheService(senders, scenario: "broker paused 15 s: device → echo")
        // The fence shows in the delivery report of the first record after the outage: each sender sends once more.
        let after = Upstream()
        await withTaskGroup(of: Void.self) { group in
            for sender in senders { group.addTask { await after.send(from: sender, id: "after") } }
        }
        #expect(await after.ackedCount == senders.count, "every sender's message was acked after the outage")
        try await f.expectEveryComponentRunningAndReady()
        // Metrics are sampled with the readiness checks, every 2 s.
        let deadline = ContinuousClock.now + .seconds(10)
        var samples: [String: (failed: Double?, replaced: Double?)] = [:]
        repeat {
            for (name, producer) in [("edge-1", "edge"), ("edge-2", "edge"), ("router-1", "router"), ("echo", "echo")] {
                let url = try #require(f.cluster.adminURL(name)) + "/metrics"
                let metrics = try #require(await AdminProbe.get(url)).body
                samples[name] = (Self.sample(metrics, "cg_kafka_producer_failed{producer=\"\(producer)\"}"),
                                 Self.sample(metrics, "cg_kafka_producer_replacements_total{producer=\"\(producer)\"}"))
            }
            if samples.values.contains(where: { ($0.replaced ?? 0) >= 1 }) { break }
            try await Task.sleep(for: .milliseconds(500))
        } while ContinuousClock.now < deadline
        for (name, sample) in samples.sorted(by: { $0.key < $1.key }) {
            print("fault producer fenced: \(name) failed \(sample.failed.map { "\($0)" } ?? "missing"), replaced \(sample.replaced.map { "\(Int($0))" } ?? "missing") times")
            #expect(sample.failed == 0, "\(name): cg_kafka_producer_failed is served and 0 once ready")
            #expect(sample.replaced != nil, "\(name): cg_kafka_producer_replacements_total is served")
        }
        let edges = (samples["edge-1"]?.replaced ?? 0) + (samples["edge-2"]?.replaced ?? 0)
        #expect(edges >= 1, "an edge whose producer the broker fenced counts its replacement")
        for sender in senders { await sender.stop() }
    }

    /// A router stopping while its batch waits for a paused edge drains for up to the hand-off's give-up time (15 s
    /// here), longer than the consumer's 10 s poll interval. It must keep polling meanwhile: otherwise librdkafka
    /// leaves the group, the final commit is refused, and the other router routes the batch again. Then nothing is
    /// lost: every device gets every message, and the other router routed none of them twice.
    @Test func aRouterDrainingLongerThanThePollIntervalStaysInItsGroupAndCommits() async throws {
        let f = try await FaultCluster.start("router-drain", routers: 2, routerArguments: ["--handoff-timeout", "15"])
        defer { f.stop() }
        let receivers = try await f.devices(40, name: "rd", firstEdge: 0)
        let edge = f.cluster.edges[0].process
        edge.signal(SIGSTOP)
        try await f.publish(round: 0, to: receivers)
        try await Task.sleep(for: .seconds(1))  // routed: the hand-offs now wait for the paused edge
        let router = f.cluster.routers[0]
        let started = ContinuousClock.now
        let status = try await offload { router.stop(grace: 40) }
        let drained = ContinuousClock.now - started
        edge.signal(SIGCONT)
        let output = router.output(lastLines: 400)
        print("fault router drain: router-1 stopped in \(drained) (exit \(status)) with its batch waiting for a paused edge")
        #expect(status == 0, "the router stopped by itself")
        #expect(!output.contains("maximum poll interval"), "the draining lane kept polling:\n\(output)")
        #expect(!output.contains("batches failed"), "the final commit was accepted:\n\(output)")

        try await f.publish(round: 1, to: receivers)
        try await expectAllDelivered(receivers, rounds: 2, scenario: "router-1 of 2 stopped while its edge was paused (40 devices)", within: 60)
        let other = try #require(f.cluster.adminURL("router-2"))
        let metrics = try #require(await AdminProbe.get(other + "/metrics")).body
        let again = Self.sample(metrics, "cg_router_records_total{outcome=\"duplicate\"}") ?? 0
        print("fault router drain: router-2 routed \(Int(again)) messages a second time")
        #expect(again == 0, "router-2 routed \(Int(again)) messages a second time: router-1's final commit was lost")
        for r in receivers { await r.stop() }
    }

    /// The value of one Prometheus series in a `/metrics` body, or nil when it is not there.
    static func sample(_ metrics: String, _ series: String) -> Double? {
        for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
