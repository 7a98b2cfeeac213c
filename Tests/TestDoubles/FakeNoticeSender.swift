import NIOConcurrencyHelpers
import NIOCore
import Shared

/// A ``NoticeSender`` for tests: records every batch and hands back an outcome, on `eventLoop`, that the test completes
/// by hand. An outcome still open when the fake is freed is completed as abandoned.
public final class FakeNoticeSender: NoticeSender {
    public struct Batch: Sendable {
        public let notices: [HandoffNotice]
        public let edge: String
        public let record: EdgeRecord
    }

    public let eventLoop: any EventLoop
    private let state = NIOLockedValueBox<(batches: [Batch], outcomes: [EventLoopPromise<HandoffOutcome>], open: [Int])>(([], [], []))

    public init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func send(_ notices: [HandoffNotice], to edge: String, at record: EdgeRecord) -> EventLoopFuture<HandoffOutcome> {
        state.withLockedValue { state in
            let outcome = eventLoop.makePromise(of: HandoffOutcome.self)
            state.open.append(state.batches.count)
            state.batches.append(Batch(notices: notices, edge: edge, record: record))
            state.outcomes.append(outcome)
            return outcome.futureResult
        }
    }

    /// Every batch sent, in order.
    public var batches: [Batch] { state.withLockedValue { $0.batches } }

    /// Indices (into ``batches``) of the batches whose outcome is not completed yet.
    public var open: [Int] { state.withLockedValue { $0.open } }

    /// Completes batch `index` with `outcome`.
    public func complete(_ index: Int, _ outcome: HandoffOutcome = .handedOff) {
        let promise = state.withLockedValue { state -> EventLoopPromise<HandoffOutcome>? in
            guard let at = state.open.firstIndex(of: index) else { return nil }
            state.open.remove(at: at)
            return state.outcomes[index]
        }
        promise?.succeed(outcome)
    }

    deinit { for index in open { complete(index, .abandoned("left open by the test")) } }
}
