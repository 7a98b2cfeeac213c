import Foundation

/// Lets a component start its own process's graceful shutdown from inside: the very shutdown SIGTERM starts, run by
/// the process's one service group (an edge asked to drain over its hand-off listener, docs/handoff.md).
///
/// The group attaches its trigger when it starts (`attach`); the component calls `fire()`. Guarantees: the action runs
/// at most once, however often either is called; a `fire()` that comes before the group attached is remembered and
/// runs when it attaches. Never blocks: the action runs in a task of its own.
public final class ShutdownTrigger: @unchecked Sendable {
    private let lock = NSLock()
    private var action: (@Sendable () async -> Void)?
    private var fired = false
    private var done = false

    public init() {}

    /// Whether `fire()` has been called.

    /// Sets what `fire()` does (the service group's `triggerGracefulShutdown`); runs it at once if `fire()` came first.
    public func attach(_ action: @escaping @Sendable () async -> Void) {
        let run: Bool = lock.withLock {
            self.action = action
            return takeIfDue()
        }
        if run { Task { await action() } }
    }

    /// Starts the graceful shutdown, now or as soon as the group attaches.
    public func fire() {
        let action: (@Sendable () async -> Void)? = lock.withLock {
            fired = true
            return takeIfDue() ? self.action : nil
        }
        if let action { Task { await action() } }
    }

    /// Under the lock: true once, when both the request and the action are there.
    private func takeIfDue() -> Bool {
        guard fired, action != nil, !done else { return false }
        done = true
        return true
    }
}
