/// Runs blocking work (a broker or Redis check at start-up, waiting for a process, a blocking stop) on a
/// ``DedicatedThread`` of its own and awaits its result, so that callers in Swift concurrency never block the
/// cooperative pool, which has only as many threads as cores.
@discardableResult
public func offload<T: Sendable>(_ name: String = "offload", _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DedicatedThread(name: name) { _ in continuation.resume(with: Result { try work() }) }.start()
    }
}
