import ChannelProtocol
import Metrics

/// The edge's metrics, reported through swift-metrics (Prometheus names in docs/operations.md).
///
/// Every series is made once, at start: dimensions come from bounded sets (the catalog's services, the protocol's
/// error codes, hello outcomes), so the number of series never grows with traffic.
final class EdgeMetrics: Sendable {
    /// Devices registered on this edge (welcomed and not yet gone).
    let connections = Gauge(label: "cg_edge_connections")
    let bytesIn = Counter(label: "cg_edge_bytes_in_total")
    let bytesOut = Counter(label: "cg_edge_bytes_out_total")
    /// From handing a device message to the producer to the broker's answer.
    let produceLatency = Timer(label: "cg_kafka_produce_seconds", dimensions: [("component", "edge")])
    let produceErrors = Counter(label: "cg_kafka_produce_errors_total", dimensions: [("component", "edge")])
    /// The route claim of a hello.
    let redisLatency = Timer(label: "cg_redis_seconds", dimensions: [("component", "edge")])
    let redisErrors = Counter(label: "cg_redis_errors_total", dimensions: [("component", "edge")])
    /// Topic messages written to devices (live and replayed), and `gap` frames sent.
    let topicDeliveries = Counter(label: "cg_edge_topic_deliveries_total")
    let topicGaps = Counter(label: "cg_edge_topic_gaps_total")
    /// Records of the topic stream read by the feed, and those skipped for breaking the contract.
    let topicRecords = Counter(label: "cg_edge_topic_records_total")
    let topicRecordsRefused = Counter(label: "cg_edge_topic_records_refused_total")
    /// Reads of the broker for subscribers resuming from before the edge's topic log.
    let topicReplayReads = Counter(label: "cg_edge_topic_replay_reads_total")
    private let hellos: [String: Counter]
    private let refreshes: [String: Counter]
    private let tokenCloses: [String: Counter]
    private let framesIn: [String: Counter]
    private let framesOut: [String: Counter]
    private let refusals: [ErrorCode: Counter]

    init(services: Set<String>) {
        hellos = Dictionary(uniqueKeysWithValues: (["ok"] + ErrorCode.allCases.map(\.rawValue)).map {
            ($0, Counter(label: "cg_edge_hellos_total", dimensions: [("outcome", $0)]))
        })
        refreshes = Dictionary(uniqueKeysWithValues: ["ok", "refused", "too_often"].map {
            ($0, Counter(label: "cg_edge_token_refreshes_total", dimensions: [("outcome", $0)]))
        })
        tokenCloses = Dictionary(uniqueKeysWithValues: ["token_expired", "revoked"].map {
            ($0, Counter(label: "cg_edge_token_closes_total", dimensions: [("reason", $0)]))
        })
        framesIn = Dictionary(uniqueKeysWithValues: services.map {
            ($0, Counter(label: "cg_edge_frames_in_total", dimensions: [("service", $0)]))
        })
        framesOut = Dictionary(uniqueKeysWithValues: services.map {
            ($0, Counter(label: "cg_edge_frames_out_total", dimensions: [("service", $0)]))
        })
        refusals = Dictionary(uniqueKeysWithValues: ErrorCode.allCases.map {
            ($0, Counter(label: "cg_edge_refusals_total", dimensions: [("code", $0.rawValue)]))
        })
    }

    /// A hello ended: "ok", or the error code it was refused with.
    func hello(_ outcome: String) { hellos[outcome]?.increment() }

    /// A `refresh` ended: "ok", "refused" (a bad or revoked token) or "too_often".
    func refresh(_ outcome: String) { refreshes[outcome]?.increment() }

    /// A connection was closed for its token: "token_expired" or "revoked".
    func tokenClosed(_ reason: String) { tokenCloses[reason]?.increment() }

    /// A device message for `service` was accepted for publishing (unknown services are counted as refusals).
    func frameIn(service: String) { framesIn[service]?.increment() }

    /// A message from `service` was written to a device.
    func frameOut(service: String) { framesOut[service]?.increment() }

    /// The edge answered something a device sent with an `error` frame: what it dropped, by reason.
    func refused(_ code: ErrorCode) { refusals[code]?.increment() }
}
