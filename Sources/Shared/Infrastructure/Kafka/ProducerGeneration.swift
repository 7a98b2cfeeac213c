internal import CRdKafka
import Logging

/// One librdkafka producer and its poll thread: what a ``KafkaProducer`` replaces when it fails for good (librdkafka
/// reports a fatal error, or the broker refuses a record because it fenced the producer).
///
/// Its delivery callbacks are its own (``KafkaClientContext/deliveries``), so a retired generation fails exactly the
/// records that were enqueued on it, when its poll thread stops.
final class ProducerGeneration: Sendable {
    /// 1 for the first, then one more per replacement.
    let number: Int
    let handle: KafkaHandle
    let pollThread: ProducerPollThread

    /// Creates the producer handle (`defaults` under `config`) and starts its poll thread. `onFatal` runs, on the poll
    /// thread, when librdkafka reports a fatal error or a delivery report says the broker fenced this producer.
    init(number: Int, config: KafkaConfig, defaults: KeyValuePairs<String, String>, logger: Logger,
         onFatal: @escaping @Sendable (_ reason: String) -> Void) throws {
        self.number = number
        handle = try KafkaHandle(type: RD_KAFKA_PRODUCER, role: .producer, config: config, defaults: defaults,
                                 logger: logger) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let opaque else { return }
                let context = Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
                let m = message.pointee
                // A broker that fenced this producer (Tansu does after an epoch bump) refuses every later record with
                // PRODUCER_FENCED; librdkafka reports that per record, not as a fatal error, so it is caught here,
                // before the callback, so that a sender trying again already reaches the replacement.
                if m.err == RD_KAFKA_RESP_ERR_PRODUCER_FENCED || m.err == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH {
                    context.onFatal.withLock { $0 }?("the broker fenced it (\(String(cString: rd_kafka_err2name(m.err))))")
                }
                guard let waiting = context.deliveries.take(UInt(bitPattern: m._private)) else { return }
                if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    waiting.complete(.success(KafkaDelivery(partition: m.partition, offset: m.offset)))
                } else {
                    let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
                    waiting.complete(.failure(KafkaError(m.err, context: "delivery to topic \(topic) failed")))
                }
            }
        }
        handle.context.onFatal.withLock { $0 = onFatal }
        pollThread = ProducerPollThread(handle: handle)
    }

    /// Makes librdkafka raise a fatal error on this producer (`rd_kafka_test_fatal_error`), reported like a real one.
    func injectFatalError(_ reason: String) {
        _ = rd_kafka_test_fatal_error(handle.pointer, RD_KAFKA_RESP_ERR_PRODUCER_FENCED, reason)
    }

    /// Whether librdkafka refused a record because this producer hit a fatal error.
    static func isFatal(_ error: KafkaError) -> Bool {
        error.code == RD_KAFKA_RESP_ERR__FATAL.rawValue
    }
}
