/// The life of a ``DedicatedThread`` as a value, free of threads and locks: each event returns what its owner must do,
/// so the rules are unit-tested on their own.
///
/// Rules: the thread is spawned once, by the first start; a stop may be requested at any time, before the start
/// included, and wakes the loop once; when the body returns, every waiter is resumed, and a waiter that comes later
/// (or whose task was already cancelled) is resumed at once.
struct ThreadLife<Waiter> {
    enum Phase: Equatable { case idle, running, finished }

    private(set) var phase = Phase.idle
    private(set) var stopRequested = false
    private var waiters: [Int: Waiter] = [:]
    private var nextWaiter = 0

    /// True when the caller must spawn the thread now.
    mutating func start() -> Bool {
        guard phase == .idle else { return false }
        phase = .running
        return true
    }

    /// True when the caller must wake the loop now (the first request only).
    mutating func requestStop() -> Bool {
        guard !stopRequested else { return false }
        stopRequested = true
        return phase != .finished
    }

    /// The body returned: the waiters to resume.
    mutating func bodyReturned() -> [Waiter] {
        phase = .finished
        defer { waiters = [:] }
        return Array(waiters.values)
    }

    /// A number for a waiter to come, so that it can be taken back if its task is cancelled.
    mutating func reserveWaiter() -> Int {
        defer { nextWaiter += 1 }
        return nextWaiter
    }

    /// Registers `waiter` under `id`; false when it must be resumed at once (the body returned, or it was cancelled).
    mutating func wait(_ waiter: Waiter, id: Int, cancelled: Bool) -> Bool {
        guard phase != .finished, !cancelled else { return false }
        waiters[id] = waiter
        return true
    }

    /// Takes back the waiter `id`, if it still waits.
    mutating func cancelWait(id: Int) -> Waiter? { waiters.removeValue(forKey: id) }
}
