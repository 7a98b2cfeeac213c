import Foundation
import Lifecycle

extension LocalProcess {
    /// ``waitForLine(containing:timeout:)`` without blocking the caller's thread.
    @discardableResult
    public func line(containing marker: String, timeout: Double = 30) async throws -> String {
        try await offload { try self.waitForLine(containing: marker, timeout: timeout) }
    }

    /// ``runToEnd(_:_:)`` without blocking the caller's thread: a wait on one of the cooperative pool's few threads
    /// stalls every other task meanwhile.
    public static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await offload { try runToEnd(executable, arguments) }
    }

    /// Waits, without blocking the caller's thread, until the process exits or `timeout` seconds pass.
    public func exit(within timeout: Double) async {
        let deadline = Date().addingTimeInterval(timeout)
        // Its output too: the reader thread may still hold the last lines when the exit is seen.
        while (isRunning || !outputClosed) && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
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
