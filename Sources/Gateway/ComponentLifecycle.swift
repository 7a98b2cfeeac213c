import Foundation
import Lifecycle
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Runs a process's services in one swift-service-lifecycle group until the process is asked to stop: SIGTERM or
/// SIGINT (or, with `--exit-with-stdin`, its standard input closing, or the component's own `trigger`) starts a
/// graceful shutdown, which stops the services one at a time, last listed first; if that takes longer than
/// `shutdownLimit`, the group is cancelled and the process ends anyway. Every command that runs until stopped (`edge`, `router`, `echo`, `push`, `presence`, `dev`)
/// ends this way.
enum ComponentLifecycle {
    /// - Parameters:
    ///   - services: in start order (admin endpoint first, readiness last), so they stop in reverse.
    ///   - trigger: fired by the component to start the same graceful shutdown as SIGTERM (an edge asked to drain).
    static func run(_ services: [(name: String, service: any Service)], logger: Logger, watchStdin: Bool,
                    shutdownLimit: Duration, trigger: ShutdownTrigger? = nil) async throws {
        signal(SIGPIPE, SIG_IGN)
        // Before any service can take the process to its open-file limit (DispatchTimerClocks.swift).
        await DispatchTimerClocks.open()
        var configurations = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0.service, serviceName: $0.name) }
        if watchStdin {
            configurations.append(.init(service: StandardInputWatch(), successTerminationBehavior: .gracefullyShutdownGroup,
                                        serviceName: "stdin"))
        }
        var configuration = ServiceGroupConfiguration(services: configurations, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      cancellationSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = shutdownLimit
        let group = ServiceGroup(configuration: configuration)
        trigger?.attach { await group.triggerGracefulShutdown() }
        try await group.run()
    }

    /// Ends when standard input closes (the parent process is gone), which shuts the group down gracefully.
    struct StandardInputWatch: Service {
        func run() async throws {
            let closed = AsyncStream<Void> { continuation in
                // Reading standard input blocks, so it gets a thread; it ends with the process.
                DedicatedThread(name: "stdin-watch") { _ in
                    while FileHandle.standardInput.availableData.count > 0 {}
                    continuation.yield()
                    continuation.finish()
                }.start()
            }
            await cancelWhenGracefulShutdown {
                for await _ in closed { return }
            }
        }
    }
}
