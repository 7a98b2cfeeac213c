import Metrics

/// The push service's metrics, through swift-metrics (Prometheus names in docs/push.md).
///
/// Every series is made once, at start, for the statuses the API can answer, so the number of series never grows
/// with traffic (an unexpected status is counted as `other`).
final class PushMetrics: Sendable {
    static let statuses = [200, 201, 204, 400, 401, 403, 404, 405, 410, 413, 429, 500, 503]

    private let requests: [Int: Counter]
    private let otherRequests = Counter(label: "cg_push_requests_total", dimensions: [("status", "other")])
    /// From a push's complete request to its 201: the Redis check and the Kafka write.
    let accepted = Timer(label: "cg_push_seconds")
    /// From a publish's complete request to its 201: the Kafka write.
    let published = Timer(label: "cg_push_topic_seconds")

    init() {
        requests = Dictionary(uniqueKeysWithValues: Self.statuses.map {
            ($0, Counter(label: "cg_push_requests_total", dimensions: [("status", String($0))]))
        })
    }

    /// One HTTP response was written with `status`.
    func answered(_ status: Int) { (requests[status] ?? otherRequests).increment() }
}
