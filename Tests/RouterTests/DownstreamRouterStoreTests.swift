import Infrastructure
import Shared
import Testing
@testable import Router

/// ``DownstreamRouter/store(_:)``: what each record leads to, counted, reported and grouped by edge.
@Suite struct DownstreamRouterStoreTests {
    @Test func recordsThatBreakTheContractAreCountedAndNotStored() throws {
        let test = TestRouter()
        var noKey = TestRouter.record("d-1", id: "m-1")
        noKey.key = nil
        var noService = TestRouter.record("d-2", id: "m-2")
        noService.headers.removeAll { $0.name == "service" }
        let stored = try test.router.store([noKey, TestRouter.record("d-3", id: "m-3"), noService])
        #expect(stored.outcome.invalid == 2)
        #expect(test.mailbox.asked.map(\.device) == ["d-3"])
        #expect(stored.outcome.stored == 1 && stored.outcome.noticed == 1)
    }

    @Test func eachStoreResultHasItsCountAndExpiredAndFullAreReported() throws {
        let test = TestRouter()
        let route = DeviceRoute(edge: "edge-a", session: "s-1", epoch: 3, sinceMs: 0)
        test.mailbox.answer("m-1", .stored(seq: 7), route: route)
        test.mailbox.answer("m-2", .duplicate(seq: 5), route: route)
        test.mailbox.answer("m-3", .expired, route: route)
        test.mailbox.answer("m-4", .full, route: route)
        let records = (1...4).map { TestRouter.record("d-1", id: "m-\($0)") }
        let stored = try test.router.store(records)

        var expected = DownstreamRouter.Outcome()
        (expected.stored, expected.duplicates, expected.expired, expected.rejected, expected.noticed) = (1, 1, 1, 1, 2)
        #expect(stored.outcome == expected)
        // Stored and duplicate messages are noticed with the seq the mailbox gave them.
        #expect(stored.notices["edge-a"]?.notices.map(\.seq) == [7, 5])
        let reports = stored.reports.compactMap { ReportRecord(record: KafkaRecord(topic: $0.topic, partition: 0, offset: 0, key: $0.key, value: $0.value, headers: $0.headers)) }
        #expect(stored.reports.map(\.topic) == ["cg.report.echo", "cg.report.echo"])
        #expect(reports.map(\.id) == ["m-3", "m-4"])
        #expect(reports.map(\.reason) == [.expired, .mailboxFull])
        #expect(reports.allSatisfy { $0.device == "d-1" && $0.payload == records[0].value })
    }

    @Test func aDeviceWithoutARouteOrOnADeadEdgeIsOffline() throws {
        let test = TestRouter()
        test.edges.kill("edge-b")
        test.mailbox.answer("m-1", .stored(seq: 1), route: nil)
        test.mailbox.answer("m-2", .stored(seq: 1), route: DeviceRoute(edge: "edge-b", session: "s", epoch: 1, sinceMs: 0))
        let stored = try test.router.store([TestRouter.record("d-1", id: "m-1"), TestRouter.record("d-2", id: "m-2")])
        #expect(stored.outcome.offline == 2 && stored.outcome.noticed == 0 && stored.outcome.stored == 2)
        #expect(stored.notices.isEmpty)
        #expect(test.edges.asked == [["edge-b"]], "only routed devices' edges are looked up")
    }

    @Test func noticesAreGroupedPerEdgeInBatchOrderNamingTheRoutesSession() throws {
        let test = TestRouter()
        for (id, edge) in [("m-1", "edge-a"), ("m-2", "edge-b"), ("m-3", "edge-a"), ("m-4", "edge-b")] {
            test.mailbox.answer(id, .stored(seq: Int64(id.dropFirst(2))!), route: DeviceRoute(edge: edge, session: "s-\(id)", epoch: 1, sinceMs: 0))
        }
        let stored = try test.router.store((1...4).map { TestRouter.record("d-\($0)", id: "m-\($0)") })
        #expect(stored.notices["edge-a"]?.notices.map { "\($0.device) \($0.session)" } == ["d-1 s-m-1", "d-3 s-m-3"])
        #expect(stored.notices["edge-b"]?.notices.map { "\($0.device) \($0.session)" } == ["d-2 s-m-2", "d-4 s-m-4"])
        #expect(stored.notices["edge-a"]?.record == test.edges.record(of: "edge-a"))
        #expect(stored.notices["edge-b"]?.record == test.edges.record(of: "edge-b"))
    }

    @Test func aStoreThatFailsFailsTheBatch() {
        let test = TestRouter()
        test.mailbox.fail()
        #expect(throws: RedisError.self) { try test.router.store([TestRouter.record("d-1", id: "m-1")]) }
    }
}

extension HandoffNotice {
    var seq: Int64? {
        if case .message(_, _, let entry) = self { return entry.seq }
        return nil
    }
}
