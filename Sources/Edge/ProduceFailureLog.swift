import Infrastructure
import Logging
import NIOConcurrencyHelpers
import Shared

/// Logs why the broker did not take device messages, at most once per interval (with how many failed since the last
/// line), so an operator sees the cause of `cg_kafka_produce_errors_total` without one log line per message.
final class ProduceFailureLog: Sendable {
    private let logger: Logger
    private let interval: Duration
    private let state = NIOLockedValueBox((last: ContinuousClock.Instant?.none, suppressed: 0))

    init(logger: Logger, interval: Duration = .seconds(5)) {
        self.logger = logger
        self.interval = interval
    }

    /// One device message was not delivered because of `error`.
    func failed(_ error: KafkaError, topic: String) {
        let now = ContinuousClock.now
        let report = state.withLockedValue { s -> Int? in
            if let last = s.last, now - last < interval {
                s.suppressed += 1
                return nil
            }
            defer { s = (now, 0) }
            return s.suppressed
        }
        guard let earlier = report else { return }
        logger.warning("device messages not delivered to \(topic): \(error)\(earlier > 0 ? " (and \(earlier) more since the last report)" : "")")
    }
}
