import DevCluster
import Foundation
import Testing

/// The broker stops answering for longer than every time limit the components set on it: the producers' message
/// timeouts (edge 10 s; router, echo, push and presence 5 s), the backends' send deadline (6 s) and the consumers'
/// poll interval (10 s). In the serialized `FaultTests` suite: it loads the machine too.
extension FaultTests {
    /// With the edges' default timeouts: against Tansu, an idempotent producer whose messages timed out is fenced for
    /// good, so this also proves that each producer replaces itself (docs/operations.md, "Known limits with Tansu").
    /// Every published message must reach its device, every message the edge acked must reach the echo service, every
    /// component must keep running and be ready again, and devices must get their messages acked again afterwards.
    @Test func pausingTheBrokerPastEveryTimeLimitLosesNothing() async throws {
        let f = try await FaultCluster.start("outage-long")
        defer { f.stop() }
        let receivers = try await f.devices(100, name: "ol")
        let senders = Array(receivers.prefix(20))
        let upstream = Upstream()
        let rounds = 10
        let pause = 15.0
        for round in 0..<rounds {
            upstream.startRound(round, from: senders)
            if round == 3 { f.pauseBroker(for: .seconds(pause)) }
            try await f.publish(round: round, to: receivers)
            try await Task.sleep(for: .milliseconds(200))
        }
        try await expectAllDelivered(receivers, rounds: rounds, scenario: "broker paused \(Int(pause)) s, default limits (100 devices)", within: 120)
        try await upstream.expectEveryAckedMessageReachedTheService(senders, scenario: "broker paused \(Int(pause)) s, default limits: device → echo")
        // After the outage, every sender's next message is acked (within its 60 tries) and answered by the echo service:
        // a fenced producer that was not replaced refuses them all, for good.
        let after = Upstream()
        await withTaskGroup(of: Void.self) { group in
            for sender in senders { group.addTask { await after.send(from: sender, id: "after") } }
        }
        try await after.expectEveryAckedMessageReachedTheService(senders, scenario: "after the outage: device → echo")
        #expect(await after.ackedCount == senders.count, "every sender's message was acked after the outage")
        try await f.expectEveryComponentRunningAndReady()
        for r in receivers { await r.stop() }
    }
}
