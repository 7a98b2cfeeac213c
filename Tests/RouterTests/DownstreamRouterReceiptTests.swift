import Infrastructure
import NIOConcurrencyHelpers
import NIOCore
import Shared
import Testing
@testable import Router

/// ``DownstreamRouter/handOff(_:)`` and receipts: once an edge acks its notices, the messages among them that asked
/// for a receipt are marked delivered and reported, and the batch completes only after those reports; messages
/// without a receipt cost no write and no report.
@Suite struct DownstreamRouterReceiptTests {
    static func record(_ device: String, id: String, receipt: Bool) -> KafkaRecord {
        let sent = DownstreamRecord(device: device, service: "echo", id: id, contentType: "application/json",
                                    payload: Array("{}".utf8), receipt: receipt).record(topics: Topics(prefix: "cg"))
        return KafkaRecord(topic: sent.topic, partition: 0, offset: 0, key: sent.key, value: sent.value, headers: sent.headers)
    }

    @Test func anAckedNoticeBatchMarksAndReportsOnlyItsReceiptMessages() throws {
        let test = TestRouter()
        test.mailbox.answer("m-3", .stored(seq: 1), route: DeviceRoute(edge: "edge-b", session: "s", epoch: 1, sinceMs: 0))
        let stored = try test.router.store([Self.record("d-1", id: "m-1", receipt: true), Self.record("d-2", id: "m-2", receipt: false),
                                            Self.record("d-3", id: "m-3", receipt: true)])
        #expect(test.mailbox.asked.map(\.entry.receipt) == [true, false, true])
        let outcome = NIOLockedValueBox<DownstreamRouter.Outcome?>(nil)
        test.router.handOff(stored).whenSuccess { result in outcome.withLockedValue { $0 = result } }

        let a = try #require(test.handoff.batches.firstIndex { $0.edge == "edge-a" })
        let b = try #require(test.handoff.batches.firstIndex { $0.edge == "edge-b" })
        test.handoff.complete(b, .abandoned("no ack"))
        #expect(test.mailbox.markedDelivered.isEmpty, "an abandoned batch marks nothing")
        test.handoff.complete(a)
        #expect(test.mailbox.markedDelivered.map { "\($0.device)/\($0.id)@\($0.edge)" } == ["d-1/m-1@edge-a"])
        #expect(test.reports.map(\.reason) == [.delivered] && test.reports.first?.id == "m-1")
        #expect(outcome.withLockedValue { $0 } == nil, "the batch waits for the delivered report")
        test.publisher.deliver(0)
        #expect(outcome.withLockedValue { $0 }?.noticed == 2)
    }

    @Test func withoutReceiptsNothingIsWrittenOrReported() throws {
        let test = TestRouter()
        let stored = try test.router.store([Self.record("d-1", id: "m-1", receipt: false), Self.record("d-2", id: "m-2", receipt: false)])
        let outcome = NIOLockedValueBox<DownstreamRouter.Outcome?>(nil)
        test.router.handOff(stored).whenSuccess { result in outcome.withLockedValue { $0 = result } }
        for index in test.handoff.open { test.handoff.complete(index) }
        #expect(test.mailbox.markedDelivered.isEmpty && test.publisher.records.isEmpty)
        #expect(outcome.withLockedValue { $0 }?.noticed == 2)
    }
}
