import Foundation

/// Runs blocking work (waiting for a process, starting a cluster) on a thread of its own and awaits its result,
/// so that callers in Swift concurrency never block the cooperative pool, which has only as many threads as cores.
public func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.start()
    }
}

extension LocalProcess {
    /// ``waitForLine(containing:timeout:)`` without blocking the caller's thread.
    @discardableResult
    public func line(containing marker: String, timeout: Double = 30) async throws -> String {
        try await offload { try self.waitForLine(containing: marker, timeout: timeout) }
    }

    /// Waits, without blocking the caller's thread, until the process exits or `timeout` seconds pass.
    public func exit(within timeout: Double) async {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
    }
}
