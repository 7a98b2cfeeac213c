import Infrastructure
import NIOConcurrencyHelpers
import NIOCore
import Shared

/// A ``RecordPublisher`` for tests: records every record it takes and hands back a delivery the test completes by
/// hand, on the loop the caller named. A delivery still open when the fake is freed is failed, so that a test that
/// stops early cannot leak a promise (NIO traps on that in debug builds).
public final class FakePublisher: RecordPublisher {
    private struct Sent {
        let record: OutgoingRecord
        let delivery: EventLoopPromise<KafkaDelivery>
    }

    private let state = NIOLockedValueBox<(sent: [Sent], open: [Int], refusing: Bool)>(([], [], false))

    public init() {}

    public func send(_ record: OutgoingRecord, on eventLoop: any EventLoop) throws -> EventLoopFuture<KafkaDelivery> {
        try state.withLockedValue { state in
            if state.refusing { throw KafkaError(code: -184, message: "queue full", isRetriable: true) }
            let delivery = eventLoop.makePromise(of: KafkaDelivery.self)
            state.open.append(state.sent.count)
            state.sent.append(Sent(record: record, delivery: delivery))
            return delivery.futureResult
        }
    }

    /// When true, `send` throws, as a producer whose queue is full does.
    public var refusing: Bool {
        get { state.withLockedValue { $0.refusing } }
        set { state.withLockedValue { $0.refusing = newValue } }
    }

    /// Every record taken, in order.
    public var records: [OutgoingRecord] { state.withLockedValue { $0.sent.map(\.record) } }

    /// The records taken for `topic`, in order.
    public func records(on topic: String) -> [OutgoingRecord] { records.filter { $0.topic == topic } }

    /// Indices (into ``records``) of the records whose delivery is not completed yet.
    public var open: [Int] { state.withLockedValue { $0.open } }

    /// Completes the delivery of record `index`; off the loop, its callbacks run on the loop in order.
    public func deliver(_ index: Int, _ result: Result<KafkaDelivery, any Error> = .success(KafkaDelivery(partition: 0, offset: 0))) {
        let promise = state.withLockedValue { state -> EventLoopPromise<KafkaDelivery>? in
            guard let at = state.open.firstIndex(of: index) else { return nil }
            state.open.remove(at: at)
            return state.sent[index].delivery
        }
        promise?.completeWith(result)
    }

    /// Completes every open delivery with `result`.
    public func deliverAll(_ result: Result<KafkaDelivery, any Error> = .success(KafkaDelivery(partition: 0, offset: 0))) {
        for index in open { deliver(index, result) }
    }

    deinit { deliverAll(.failure(LeftOpen())) }
}

/// Why a fake failed a call the test left open.
public struct LeftOpen: Error {
    public init() {}
}
