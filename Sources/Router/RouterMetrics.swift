import Metrics

/// The router's metrics, reported through swift-metrics (Prometheus names in docs/operations.md).
struct RouterMetrics: Sendable {
    private let records: [String: Counter] = Dictionary(uniqueKeysWithValues:
        ["stored", "duplicate", "noticed", "offline", "expired", "rejected", "invalid", "abandoned"].map {
            ($0, Counter(label: "cg_router_records_total", dimensions: [("outcome", $0)]))
        })
    /// Routing one batch: from its poll until its mailbox writes, hand-offs and reports are done.
    let batchLatency = Timer(label: "cg_router_batch_seconds")
    /// Batches that failed (Redis or the broker unreachable) and were routed again.
    let batchFailures = Counter(label: "cg_router_batch_failures_total")
    /// Messages waiting in all device mailboxes (sampled every few seconds).
    let mailboxMessages = Gauge(label: "cg_mailbox_messages")

    /// Downstream records not yet consumed by one lane of this router.
    func consumerLag(lane: Int) -> Gauge {
        Gauge(label: "cg_consumer_lag", dimensions: [("component", "router"), ("lane", "\(lane)")])
    }

    func count(_ outcome: DownstreamRouter.Outcome) {
        records["stored"]?.increment(by: Int64(outcome.stored))
        records["duplicate"]?.increment(by: Int64(outcome.duplicates))
        records["noticed"]?.increment(by: Int64(outcome.noticed))
        records["offline"]?.increment(by: Int64(outcome.offline))
        records["expired"]?.increment(by: Int64(outcome.expired))
        records["rejected"]?.increment(by: Int64(outcome.rejected))
        records["invalid"]?.increment(by: Int64(outcome.invalid))
        records["abandoned"]?.increment(by: Int64(outcome.abandoned))
    }
}
