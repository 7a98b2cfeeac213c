import Foundation

/// A value guarded by a lock, for the small pieces of state the Kafka and Redis wrappers share between threads.
///
/// `Synchronization.Mutex` would do, but it needs macOS 15 and the package still builds for macOS 14.
final class Locked<State>: @unchecked Sendable {
    private let lock = NSLock()
    private var state: State

    init(_ state: State) { self.state = state }

    /// Runs `body` with exclusive access. Never call back into code that might take the same lock.
    func withLock<T>(_ body: (inout State) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }
}
