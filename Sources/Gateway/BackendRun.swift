import Admin
import ArgumentParser
import Logging

/// How a backend service command (`echo`, `push`, `presence`) runs: start it, serve the admin endpoint, wait until
/// its consumer group has given it partitions, say it is ready, and on SIGTERM, SIGINT or stdin closing turn unready,
/// stop the service (finishing the batch in hand) and close the admin endpoint, within 30 s.
enum BackendRun {
    /// Call `AdminEndpoint.bootstrapMetrics()` before making the service, so that its metrics reach `/metrics`.
    /// - Parameters:
    ///   - redis: whether readiness also checks Redis (the service uses it).
    ///   - start: starts the service; a failure is reported as "`name` failed to start" and exits 1.
    ///   - isAssigned: whether the service has partitions; ready is said once it does (or after 60 s).
    ///   - readyLine: what follows "`name` ready" (the line `gateway dev` and the tests wait for).
    ///   - stop: stops the service; runs during the graceful shutdown.
    static func run(_ name: String, common: CommonOptions, logger: Logger, redis: Bool,
                    start: () async throws -> Void, isAssigned: () -> Bool, readyLine: () -> String,
                    stop: @escaping @Sendable () async -> Void) async throws {
        let readiness = Readiness(checks: try AdminEndpoint.checks(common: common, redis: redis, logger: logger))
        let admin: AdminServer?
        do {
            try await start()
            admin = try await AdminEndpoint.start(common: common, name: name, readiness: readiness)
        } catch {
            Lifecycle.say("\(name) failed to start: \(error)")
            throw ExitCode.failure
        }
        await waitUntil(timeout: 60, isAssigned)
        Lifecycle.say("\(name) ready \(readyLine())")
        try await ComponentLifecycle.run(name: name, logger: logger, watchStdin: common.exitWithStdin,
                                         shutdownLimit: .seconds(30)) {
            readiness.markDraining()
            await stop()
            readiness.stop()
            await admin?.close()
        }
    }
}
