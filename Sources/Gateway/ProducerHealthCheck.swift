import Admin
import Infrastructure
import Metrics
import NIOConcurrencyHelpers

/// The readiness check of a component's Kafka producers, which also reports their metrics: a component whose
/// producer failed for good (fenced by the broker, or a fatal librdkafka error) is not ready until the producer has
/// replaced it, and `/readyz` names the failure.
///
/// Metrics, per producer (`producer` dimension), sampled at every readiness round: `cg_kafka_producer_failed` (1 while
/// failed and not yet replaced, else 0) and `cg_kafka_producer_replacements_total`.
final class ProducerHealthCheck: Sendable {
    private let producers: @Sendable () -> [(name: String, producer: KafkaProducer)]
    /// Per producer: its gauge, its counter and the replacements already counted.
    private let reported = NIOLockedValueBox<[String: (failed: Gauge, replacements: Counter, counted: Int)]>([:])

    /// - Parameter producers: the component's producers, by name (none before it has started).
    init(_ producers: @escaping @Sendable () -> [(name: String, producer: KafkaProducer)]) {
        self.producers = producers
    }

    /// The check, named for `/readyz`.
    var named: (name: String, check: Readiness.Check) { ("kafka producer", { [self] in check() }) }

    /// Nil when every producer can deliver, else which cannot and why. Tries again to replace a producer whose
    /// replacement could not be made (``KafkaProducer/checkHealth()``).
    func check() -> String? {
        var problems: [String] = []
        for (name, producer) in producers() {
            let health = producer.checkHealth()
            report(health, of: name)
            if let failure = health.failure { problems.append("\(name): \(failure)") }
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    private func report(_ health: KafkaProducerHealth, of name: String) {
        reported.withLockedValue { reported in
            var metrics = reported[name] ?? (
                Gauge(label: "cg_kafka_producer_failed", dimensions: [("producer", name)]),
                Counter(label: "cg_kafka_producer_replacements_total", dimensions: [("producer", name)]), 0)
            metrics.failed.record(health.failure == nil ? 0 : 1)
            if health.replacements > metrics.counted {
                metrics.replacements.increment(by: Int64(health.replacements - metrics.counted))
                metrics.counted = health.replacements
            }
            reported[name] = metrics
        }
    }
}
