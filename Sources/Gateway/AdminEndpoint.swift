import Admin
import Foundation
import Infrastructure
import Lifecycle
import Logging
import Metrics
import NIOConcurrencyHelpers
import Prometheus
import ServiceLifecycle
import Shared

/// Starts a component's admin endpoint (when `--admin-port` is set) and the readiness checks behind `/readyz`.
///
/// Metrics go to one Prometheus registry per process, bootstrapped here once, before the component creates its
/// counters. Readiness checks are blocking and run on the ``Readiness`` thread.
enum AdminEndpoint {
    static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = NIOLockedValueBox(false)

    /// Makes swift-metrics report to ``registry``; call before any counter is created.
    static func bootstrapMetrics() {
        let first = bootstrapped.withLockedValue { done in defer { done = true }; return !done }
        if first { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
    }

    /// The checks every component shares: Redis serves (when it uses Redis: one server answers PING, a Redis Cluster its
    /// slot map, covering every slot), the Kafka cluster answers a metadata request, and the component's Kafka producers
    /// can deliver (``ProducerHealthCheck``, which also reports their metrics).
    /// - Parameter producers: the component's producers, by name, once it has started.
    static func checks(common: CommonOptions, redis: Bool,
                       producers: @escaping @Sendable () -> [(name: String, producer: KafkaProducer)],
                       logger: Logger) throws -> [(name: String, check: Readiness.Check)] {
        var checks: [(name: String, check: Readiness.Check)] = [ProducerHealthCheck(producers).named]
        let kafka = try KafkaAdmin(config: try common.kafkaConfig(), logger: logger)
        checks.append(("kafka", { () -> String? in
            do { try kafka.checkReachable(timeout: .seconds(2)); return nil } catch { return "\(error)" }
        }))
        if redis {
            let client = try common.redisSettings().connect(logger: logger)
            checks.append(("redis", { () -> String? in
                do { try client.checkServing(timeout: .seconds(1)); return nil } catch { return "\(error)" }
            }))
        }
        return checks
    }

    /// Starts the checks, and the endpoint when a port is set; prints `admin http://HOST:PORT` for tools to read.
    static func start(common: CommonOptions, name: String, readiness: Readiness) async throws -> AdminServer? {
        readiness.start()
        guard let port = common.adminPort else { return nil }
        let server = try await AdminServer.start(host: common.adminHost, port: port, registry: registry, readiness: readiness)
        Console.say("admin \(name) http://\(common.adminHost):\(server.port)")
        return server
    }

    /// The endpoint as the first service of its process's group, so that it closes last and `/readyz` answers
    /// "draining" for as long as the component stops.
    static func service(_ server: AdminServer?) -> [(name: String, service: any Service)] {
        guard let server else { return [] }
        return [("admin", ShutdownStep("admin") { await server.close() })]
    }
}
