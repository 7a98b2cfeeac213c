import Logging
import ServiceLifecycle

/// Blocking work done again and again on a ``DedicatedThread``, `interval` apart: sweeps of expired messages and of
/// dead edges' devices, readiness checks.
///
/// Guarantees: `work` runs at once on ``start()``, then `interval` after each run ends, never two at a time; an error it
/// throws is logged and the next run comes as usual. As a `Service` it stops with the group: the run in hand finishes
/// (within the thread's stop limit), no new one starts.
public final class RecurringWork: Service, Sendable {
    private let thread: DedicatedThread

    /// - Parameters:
    ///   - name: names the thread and the log lines.
    ///   - work: one run; it may block.
    public init(name: String, every interval: Duration, stopLimit: Duration = .seconds(15), logger: Logger,
                work: @escaping @Sendable () throws -> Void) {
        thread = DedicatedThread(name: name, stopLimit: stopLimit, logger: logger) { thread in
            repeat {
                do { try work() } catch {
                    logger.warning("\(name): \(error)")
                }
            } while !thread.pause(for: interval)
        }
    }

    /// Starts the runs; later calls do nothing.
    public func start() { thread.start() }

    public func run() async throws {
        start()
        try await thread.run()
    }
}
