import Metrics
import NIOConcurrencyHelpers

/// The API's metrics, through swift-metrics (names in docs/api.md, "Metrics"): `cg_api_requests_total` by operation
/// and status, `cg_api_send_seconds` from a complete send request to its 201.
///
/// Guarantees: the series are bounded: operations are the document's (anything else counts as `unknown`) and statuses
/// are whatever the server answers, a few dozen at most.
final class APIMetrics: Sendable {
    private let counters = NIOLockedValueBox([String: Counter]())
    /// From a complete send request to its 201: the idempotency record, the Kafka writes and their acknowledgements.
    let send = Timer(label: "cg_api_send_seconds")

    init() {}

    /// One response was written for `operation` with `status`.
    func answered(operation: String, status: Int) {
        let operation = APIAccess.required[operation] == nil ? "unknown" : operation
        let key = "\(operation) \(status)"
        counters.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: "cg_api_requests_total", dimensions: [("operation", operation), ("status", String(status))])
            counters[key] = counter
            return counter
        }.increment()
    }
}
