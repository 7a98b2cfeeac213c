import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// A thread owned by one long-lived loop that must block: librdkafka's polls, hiredis's replies, or work that waits
/// on both (a consumer's batch, a sweep). It is the one way this code base starts such a thread.
///
/// Guarantees:
/// - `body` runs once, on a thread of its own named `name`, from the first ``start()`` on.
/// - A stop request is seen at once by ``isStopRequested`` and wakes ``pause(for:)``; the optional `wake` closure
///   given at init runs too, for a loop that blocks on something of its own (a queue's condition).
/// - ``join(timeout:)`` (blocking) and ``finished(within:)`` (async, never blocks a thread) return once `body` has
///   returned, or when the time is up; a body still running then keeps its resources, since only it may release them.
///
/// As a `Service` it stops when the service group shuts down gracefully: it requests the stop and waits (at most
/// `stopLimit`) for `body` to return. Starting stays explicit, because a component may need its loop running
/// before the group runs (a consumer must poll to be given partitions).
public final class DedicatedThread: Service, @unchecked Sendable {
    public let name: String
    private let stopLimit: Duration
    private let wake: (@Sendable () -> Void)?
    private let logger: Logger?

    /// Guards `life`, the thread's id and `body`; wakes ``pause(for:)`` and ``join(timeout:)``.
    private let condition = NSCondition()
    private var life = ThreadLife<CheckedContinuation<Void, Never>>()
    private var threadID: pthread_t?
    /// Dropped once taken, so that a body holding its owner (which holds this thread) leaves no cycle behind.
    private var body: (@Sendable (DedicatedThread) -> Void)?

    /// - Parameters:
    ///   - stopLimit: how long the service waits for `body` after a stop request.
    ///   - wake: called on every stop request, for a loop that waits on a condition of its own.
    ///   - body: the loop; it should return soon after ``isStopRequested`` turns true.
    ///   - logger: told when the loop does not stop in time.
    public init(name: String, stopLimit: Duration = .seconds(10), logger: Logger? = nil, wake: (@Sendable () -> Void)? = nil,
                body: @escaping @Sendable (DedicatedThread) -> Void) {
        self.name = name
        self.logger = logger
        self.stopLimit = stopLimit
        self.wake = wake
        self.body = body
    }

    /// Starts the thread; later calls do nothing.
    public func start() {
        let taken: (@Sendable (DedicatedThread) -> Void)? = condition.withLock {
            guard life.start() else { return nil }
            defer { body = nil }
            return body
        }
        guard let body = taken else { return }
        let thread = Thread { [self] in
            condition.withLock { threadID = pthread_self() }
            body(self)
            let resumed = condition.withLock {
                defer { condition.broadcast() }
                return life.bodyReturned()
            }
            for waiter in resumed { waiter.resume() }
        }
        thread.name = name
        thread.start()
    }

    /// Asks `body` to return. Does not wait.
    public func requestStop() {
        let wakeNow = condition.withLock {
            defer { condition.broadcast() }
            return life.requestStop()
        }
        if wakeNow { wake?() }
    }

    public var isStopRequested: Bool { condition.withLock { life.stopRequested } }

    /// Whether the caller is this thread (which must never wait for itself).
    public var isCurrent: Bool {
        condition.withLock { threadID.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    /// Sleeps `duration`, or less if a stop is requested meanwhile. Returns whether a stop was requested.
    @discardableResult
    public func pause(for duration: Duration) -> Bool {
        let deadline = Date().addingTimeInterval(duration.inSeconds)
        return condition.withLock {
            while !life.stopRequested { if !condition.wait(until: deadline) { break } }
            return life.stopRequested
        }
    }

    /// Blocks until `body` has returned or `timeout` passed; returns whether it had. Never call it on this thread.
    @discardableResult
    public func join(timeout: Duration) -> Bool {
        precondition(!isCurrent, "\(name) cannot wait for itself")
        let deadline = Date().addingTimeInterval(timeout.inSeconds)
        return condition.withLock {
            while life.phase != .finished { if !condition.wait(until: deadline) { break } }
            return life.phase == .finished
        }
    }

    /// Resumes once `body` has returned (true) or `timeout` passed (false), without blocking a thread.
    public func finished(within timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.finished(); return !Task.isCancelled }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
    }

    /// Resumes once `body` has returned, or the task is cancelled.
    private func finished() async {
        let id = condition.withLock { life.reserveWaiter() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waits = condition.withLock { life.wait(continuation, id: id, cancelled: Task.isCancelled) }
                if !waits { continuation.resume() }
            }
        } onCancel: {
            condition.withLock { life.cancelWait(id: id) }?.resume()
        }
    }

    /// Waits for the group's graceful shutdown (or cancellation), then stops the loop and waits for it, at most
    /// `stopLimit`.
    public func run() async throws {
        try? await gracefulShutdown()
        requestStop()
        guard condition.withLock({ life.phase != .idle }) else { return }
        if !(await finished(within: stopLimit)) {
            logger?.warning("\(name) did not stop within \(stopLimit); leaving it running")
        }
    }
}
