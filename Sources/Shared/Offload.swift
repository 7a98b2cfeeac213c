import Foundation

/// Runs blocking work (waiting for a process, starting a cluster) on a thread of its own and awaits its result,
/// so that callers in Swift concurrency never block the cooperative pool, which has only as many threads as cores.
public func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.start()
    }
}
