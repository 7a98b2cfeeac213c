import Foundation
import Lifecycle

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

/// Waits at most `seconds` for `body`.
public func within<T: Sendable>(_ seconds: Double, _ what: String = "",
                         _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TimedOut(what: what, seconds: seconds)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public let seconds: Double
    public init(what: String, seconds: Double) {
        self.what = what
        self.seconds = seconds
    }

    public var description: String { "timed out after \(seconds) s waiting for \(what)" }
}
