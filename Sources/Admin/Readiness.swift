import Lifecycle
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Whether a component can do its work now, for `/readyz`: its checks (Kafka reachable, Redis reachable, …) run
/// every `interval` as ``RecurringWork`` (they may block), and the last result is served at once.
///
/// Guarantees: a draining component is never ready; a check that fails makes the component not ready until it
/// passes again; before the first round of checks the component is not ready. As a `Service` it turns draining when
/// the group's graceful shutdown reaches it, then stops checking: place it last in the group, so that it is the first
/// to hear of the shutdown and load balancers stop sending work at once.
public final class Readiness: Service, Sendable {
    /// One check: nil when fine, else why not (shown in the `/readyz` body).
    public typealias Check = @Sendable () -> String?

    private let state = NIOLockedValueBox((problems: ["not checked yet"], draining: false))
    private let checking: RecurringWork

    public init(interval: Duration = .seconds(2), checks: [(name: String, check: Check)], logger: Logger) {
        checking = RecurringWork(name: "readiness", every: interval, logger: logger) { [state] in
            let problems = checks.compactMap { name, check in check().map { "\(name): \($0)" } }
            state.withLockedValue { $0.problems = problems }
        }
    }

    /// Starts checking in the background; later calls do nothing.
    public func start() { checking.start() }

    /// From now on the component is not ready (it is draining and takes no new work).
    public func markDraining() { state.withLockedValue { $0.draining = true } }

    /// Nil when ready, else the reasons it is not.
    public var problems: [String]? {
        state.withLockedValue { s in
            let all = (s.draining ? ["draining"] : []) + s.problems
            return all.isEmpty ? nil : all
        }
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await checking.run()
        } onGracefulShutdown: {
            self.markDraining()
        }
    }
}
