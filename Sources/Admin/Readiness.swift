import Foundation
import NIOConcurrencyHelpers

/// Whether a component can do its work now, for `/readyz`: its checks (Kafka reachable, Redis reachable, …) run
/// every `interval` on a thread of their own (they may block), and the last result is served at once.
///
/// Guarantees: a draining component is never ready; a check that fails makes the component not ready until it
/// passes again; before the first round of checks the component is not ready.
public final class Readiness: Sendable {
    /// One check: nil when fine, else why not (shown in the `/readyz` body).
    public typealias Check = @Sendable () -> String?

    private let checks: [(name: String, check: Check)]
    private let interval: TimeInterval
    private let state = NIOLockedValueBox((problems: ["not checked yet"], draining: false, stopped: false))

    public init(interval: TimeInterval = 2, checks: [(name: String, check: Check)]) {
        self.checks = checks
        self.interval = interval
    }

    /// Starts checking in the background.
    public func start() {
        let thread = Thread { [self] in
            while !state.withLockedValue({ $0.stopped }) {
                let problems = checks.compactMap { name, check in check().map { "\(name): \($0)" } }
                state.withLockedValue { $0.problems = problems }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.name = "readiness"
        thread.start()
    }

    public func stop() { state.withLockedValue { $0.stopped = true } }

    /// From now on the component is not ready (it is draining and takes no new work).
    public func markDraining() { state.withLockedValue { $0.draining = true } }

    /// Nil when ready, else the reasons it is not.
    public var problems: [String]? {
        state.withLockedValue { s in
            let all = (s.draining ? ["draining"] : []) + s.problems
            return all.isEmpty ? nil : all
        }
    }
}
