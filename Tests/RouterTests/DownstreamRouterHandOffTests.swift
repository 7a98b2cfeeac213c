import Infrastructure
import NIOConcurrencyHelpers
import NIOCore
import Shared
import Testing
@testable import Router

/// ``DownstreamRouter/handOff(_:)``: its future, which lets the lane commit the batch, completes only once every
/// notice and every report has, and counts what was given up.
@Suite struct DownstreamRouterHandOffTests {
    /// The outcome once `future` completes; nil until then.
    func watch(_ future: EventLoopFuture<DownstreamRouter.Outcome>) -> NIOLockedValueBox<DownstreamRouter.Outcome?> {
        let box = NIOLockedValueBox<DownstreamRouter.Outcome?>(nil)
        future.whenSuccess { outcome in box.withLockedValue { $0 = outcome } }
        return box
    }

    /// Two notices for `edge-a`, one for `edge-b`, and one expired message to report.
    func batch(_ test: TestRouter) throws -> DownstreamRouter.Stored {
        test.mailbox.answer("m-2", .stored(seq: 1), route: DeviceRoute(edge: "edge-b", session: "s", epoch: 1, sinceMs: 0))
        test.mailbox.answer("m-4", .expired, route: nil)
        return try test.router.store((1...4).map { TestRouter.record("d-\($0)", id: "m-\($0)") })
    }

    func index(of edge: String, in test: TestRouter) throws -> Int {
        try #require(test.handoff.batches.firstIndex { $0.edge == edge })
    }

    @Test func theFutureCompletesOnlyOnceEveryNoticeAndEveryReportHas() throws {
        let test = TestRouter()
        let stored = try batch(test)
        let outcome = watch(test.router.handOff(stored))
        #expect(test.handoff.batches.count == 2 && test.publisher.records.count == 1, "all sent at once")
        test.handoff.complete(try index(of: "edge-a", in: test))
        #expect(outcome.withLockedValue { $0 } == nil)
        test.publisher.deliver(0)
        #expect(outcome.withLockedValue { $0 } == nil)
        test.handoff.complete(try index(of: "edge-b", in: test))
        #expect(outcome.withLockedValue { $0 } == stored.outcome)
        #expect(stored.outcome.noticed == 3 && stored.outcome.expired == 1)
    }

    @Test func anAbandonedHandOffMovesItsNoticesFromNoticedToAbandoned() throws {
        let test = TestRouter()
        let stored = try batch(test)
        let outcome = watch(test.router.handOff(stored))
        test.handoff.complete(try index(of: "edge-a", in: test), .abandoned("no ack within 10 s"))
        test.handoff.complete(try index(of: "edge-b", in: test))
        test.publisher.deliver(0)
        var expected = stored.outcome
        (expected.noticed, expected.abandoned) = (1, 2)
        #expect(outcome.withLockedValue { $0 } == expected)
    }

    @Test func aReportThatFailsStillLetsTheBatchComplete() throws {
        let test = TestRouter()
        let outcome = watch(test.router.handOff(try batch(test)))
        for index in test.handoff.open { test.handoff.complete(index) }
        #expect(outcome.withLockedValue { $0 } == nil)
        test.publisher.deliver(0, .failure(KafkaError(code: 3, message: "unknown topic", isRetriable: false)))
        #expect(outcome.withLockedValue { $0 }?.expired == 1)
    }

    @Test func aReportTheProducerRefusesStillLetsTheBatchComplete() throws {
        let test = TestRouter()
        test.publisher.refusing = true
        let outcome = watch(test.router.handOff(try batch(test)))
        for index in test.handoff.open { test.handoff.complete(index) }
        #expect(outcome.withLockedValue { $0 }?.expired == 1)
        #expect(test.publisher.records.isEmpty)
    }

    @Test func aBatchWithNothingToHandOffCompletesAtOnce() throws {
        let test = TestRouter()
        test.mailbox.answer("m-1", .stored(seq: 1), route: nil)
        let stored = try test.router.store([TestRouter.record("d-1", id: "m-1")])
        #expect(watch(test.router.handOff(stored)).withLockedValue { $0 } == stored.outcome)
        #expect(test.handoff.batches.isEmpty)
    }
}
