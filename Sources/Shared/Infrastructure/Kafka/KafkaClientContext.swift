import Logging

/// What librdkafka's callbacks reach through the per-instance opaque (`rd_kafka_conf_set_opaque`).
///
/// The ``KafkaHandle`` that registers it keeps it alive at least as long as its `rd_kafka_t`, so callbacks may
/// take it unretained. Callbacks run on librdkafka's threads or inside poll calls, hence only locked state here.
final class KafkaClientContext: Sendable {
    let logger: Logger
    /// Producer only: callbacks waiting for delivery reports.
    let deliveries = DeliveryRegistry()
    /// Consumer only: whether partitions are assigned (by the group or by `assignFromEnd`).
    let assigned = Locked(false)
    /// The last error librdkafka reported through the error callback, to explain failures such as timeouts.
    let lastError = Locked<String?>(nil)
    /// Producer only: what to do when the producer failed for good (replace it): a fatal error, or fenced.
    let onFatal = Locked<(@Sendable (_ reason: String) -> Void)?>(nil)

    init(logger: Logger) {
        self.logger = logger
    }
}
