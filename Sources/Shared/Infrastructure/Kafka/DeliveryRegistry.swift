import NIOCore

/// The producer's in-flight messages: an integer id travels through librdkafka as the per-message opaque and
/// maps back to the caller's callback here.
///
/// Ids rather than retained Swift objects, so a message librdkafka never reports (destroyed handle) leaks nothing
/// and a stray report finds no entry. Each entry is removed exactly once, which makes each callback run once.
final class DeliveryRegistry: Sendable {
    typealias Callback = @Sendable (Result<KafkaDelivery, KafkaError>) -> Void

    /// Who waits for a delivery report: a callback, or a promise (one allocation fewer per record than a callback
    /// that completes a promise, on the edge's hottest path).
    enum Waiting: Sendable {
        case callback(Callback)
        case promise(EventLoopPromise<KafkaDelivery>)

        func complete(_ result: Result<KafkaDelivery, KafkaError>) {
            switch self {
            case .callback(let callback): callback(result)
            case .promise(let promise): promise.completeWith(result.mapError { $0 })
            }
        }
    }

    private struct State {
        // Starts at 1: id 0 would become a NULL opaque.
        var nextID: UInt = 1
        var callbacks: [UInt: Waiting] = [:]
    }

    private let state = Locked(State())

    func register(_ callback: Waiting) -> UInt {
        state.withLock { s in
            let id = s.nextID
            s.nextID &+= 1
            if s.nextID == 0 { s.nextID = 1 }
            s.callbacks[id] = callback
            return id
        }
    }

    /// Removes and returns the callback for `id`, if it is still waiting.
    func take(_ id: UInt) -> Waiting? {
        state.withLock { $0.callbacks.removeValue(forKey: id) }
    }

    /// Removes and returns every waiting callback.
    func takeAll() -> [Waiting] {
        state.withLock { s in
            defer { s.callbacks.removeAll() }
            return Array(s.callbacks.values)
        }
    }

    var count: Int { state.withLock { $0.callbacks.count } }
}
