import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Runs a started component until it is asked to stop, on swift-service-lifecycle: SIGTERM or SIGINT (or, with
/// `--exit-with-stdin`, its standard input closing) starts a graceful shutdown, which runs `stop` once; if that takes
/// longer than `shutdownLimit`, the group is cancelled and the process ends anyway.
enum ComponentLifecycle {
    static func run(name: String, logger: Logger, watchStdin: Bool, shutdownLimit: Duration,
                    stop: @escaping @Sendable () async -> Void) async throws {
        signal(SIGPIPE, SIG_IGN)
        var services = [ServiceGroupConfiguration.ServiceConfiguration(service: Component(stop: stop), serviceName: name)]
        if watchStdin {
            services.append(.init(service: StandardInputWatch(), successTerminationBehavior: .gracefullyShutdownGroup,
                                  serviceName: "stdin"))
        }
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      cancellationSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = shutdownLimit
        try await ServiceGroup(configuration: configuration).run()
    }

    /// A running component: it waits for the graceful shutdown, then stops.
    struct Component: Service {
        let stop: @Sendable () async -> Void

        func run() async throws {
            try? await gracefulShutdown()
            await stop()
        }
    }

    /// Ends when standard input closes (the parent process is gone), which shuts the group down gracefully.
    struct StandardInputWatch: Service {
        func run() async throws {
            let closed = AsyncStream<Void> { continuation in
                let thread = Thread {
                    while FileHandle.standardInput.availableData.count > 0 {}
                    continuation.yield()
                    continuation.finish()
                }
                thread.start()
            }
            try await cancelWhenGracefulShutdown {
                for await _ in closed { return }
            }
        }
    }
}
