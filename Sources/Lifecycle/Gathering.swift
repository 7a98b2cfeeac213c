import Foundation

/// Replies gathered from other threads (the Redis thread, the producer's poll thread) into numbered slots, for a
/// caller that either is called back once all are in, or blocks for them on its own dedicated thread. The one way
/// this code base waits for replies on a thread.
///
/// Guarantees: the first value put in a slot stays; `whenComplete` runs exactly once, on the thread that filled the
/// last slot; ``wait(until:)`` returns once every slot is filled or at the deadline, whichever comes first, and values
/// that arrive later are kept but not seen by that caller.
public final class Gathering<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var slots: [Element?]
    private var missing: Int
    private let whenComplete: (@Sendable ([Element]) -> Void)?

    /// - Parameter whenComplete: called with every slot's value, in slot order, once the last is filled.
    public init(count: Int, whenComplete: (@Sendable ([Element]) -> Void)? = nil) {
        slots = Array(repeating: nil, count: count)
        missing = count
        self.whenComplete = whenComplete
    }

    /// Fills slot `index`, unless it is filled already.
    public func put(_ element: Element, at index: Int) {
        let complete: [Element]? = condition.withLock {
            guard slots[index] == nil else { return nil }
            slots[index] = element
            missing -= 1
            condition.broadcast()
            return missing == 0 ? slots.map { $0! } : nil
        }
        if let complete { whenComplete?(complete) }
    }

    /// Blocks until every slot is filled or `deadline` passes; nil marks a slot still empty then. For dedicated threads
    /// only: never an event loop or the cooperative pool.
    public func wait(until deadline: ContinuousClock.Instant) -> [Element?] {
        let until = Date().addingTimeInterval(ContinuousClock.now.duration(to: deadline).inSeconds)
        return condition.withLock {
            while missing > 0 { if !condition.wait(until: until) { break } }
            return slots
        }
    }
}
