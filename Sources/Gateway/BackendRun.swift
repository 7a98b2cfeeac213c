import Admin
import Infrastructure
import ArgumentParser
import Logging
import ServiceLifecycle

/// How a backend service command (`echo`, `push`, `presence`) runs: start it, serve the admin endpoint, wait until
/// its consumer group has given it partitions, say it is ready, and run its services in the process's one group; on
/// SIGTERM, SIGINT or stdin closing it turns unready, stops the service (finishing the batch in hand) and closes the
/// admin endpoint, within 30 s.
enum BackendRun {
    /// Call `AdminEndpoint.bootstrapMetrics()` before making the service, so that its metrics reach `/metrics`.
    /// - Parameters:
    ///   - redis: whether readiness also checks Redis (the service uses it).
    ///   - start: starts the service; a failure is reported as "`name` failed to start" and exits 1.
    ///   - isAssigned: whether the service has partitions; ready is said once it does (or after 60 s).
    ///   - producers: the service's Kafka producers once started; it is not ready while one has failed for good.
    ///   - readyLine: what follows "`name` ready" (the line `gateway dev` and the tests wait for).
    ///   - services: the started service's parts, in start order (they stop in reverse).
    static func run(_ name: String, common: CommonOptions, logger: Logger, redis: Bool,
                    start: () async throws -> Void, isAssigned: () -> Bool,
                    producers: @escaping @Sendable () -> [(name: String, producer: KafkaProducer)], readyLine: () -> String,
                    services: () -> [(name: String, service: any Service)]) async throws {
        let readiness = Readiness(checks: try AdminEndpoint.checks(common: common, redis: redis, producers: producers, logger: logger), logger: logger)
        let admin: AdminServer?
        do {
            try await start()
            admin = try await AdminEndpoint.start(common: common, name: name, readiness: readiness)
        } catch {
            Console.say("\(name) failed to start: \(error)")
            throw ExitCode.failure
        }
        await waitUntil(timeout: 60, isAssigned)
        Console.say("\(name) ready \(readyLine())")
        try await ComponentLifecycle.run(AdminEndpoint.service(admin) + services() + [("readiness", readiness)],
                                         logger: logger, watchStdin: common.exitWithStdin, shutdownLimit: .seconds(30))
    }
}
