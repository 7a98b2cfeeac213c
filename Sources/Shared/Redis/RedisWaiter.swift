import Dispatch
import Foundation

/// Hands one value from the Redis thread to a thread waiting for it, with a timeout.
final class RedisWaiter<Value: Sendable>: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var value: Value?

    func put(_ value: Value) {
        lock.withLock { self.value = value }
        semaphore.signal()
    }

    /// The value, or nil after `timeout`; a value that comes later is dropped.
    func wait(timeout: Duration) -> Value? {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(clamping: seconds) &* 1_000_000_000 &+ Int(attoseconds / 1_000_000_000)
        guard semaphore.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success else { return nil }
        return lock.withLock { value }
    }
}

/// Gathers the replies of one pipeline and calls back once, when the last arrives.
final class RedisPipelineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<RedisValue, RedisError>?]
    private var remaining: Int
    private let completion: @Sendable ([Result<RedisValue, RedisError>]) -> Void

    init(count: Int, completion: @escaping @Sendable ([Result<RedisValue, RedisError>]) -> Void) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.completion = completion
    }

    func put(_ result: Result<RedisValue, RedisError>, at index: Int) {
        let done: [Result<RedisValue, RedisError>]? = lock.withLock {
            results[index] = result
            remaining -= 1
            return remaining == 0 ? results.map { $0! } : nil
        }
        if let done { completion(done) }
    }
}
