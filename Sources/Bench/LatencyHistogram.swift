import Histogram

/// Latencies in microseconds, from 1 µs to 10 minutes with three significant digits (HdrHistogram), mergeable
/// across worker processes.
///
/// It travels between processes as its recorded values only (pairs of value and count), not the whole bucket array.
struct LatencyHistogram: Codable, Sendable {
    private var histogram = LatencyHistogram.empty()

    private static func empty() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    }

    init() {}

    var count: UInt64 { histogram.totalCount }

    mutating func record(microseconds: Int64) {
        _ = histogram.record(UInt64(min(max(microseconds, 1), 600_000_000)))
    }

    mutating func add(_ other: LatencyHistogram) { histogram.add(other.histogram) }

    /// Milliseconds at a percentile (0–100).
    func milliseconds(at percentile: Double) -> Double {
        count == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000
    }

    /// The usual summary, in milliseconds.
    var summary: [String: Double] {
        [
            "count": Double(count),
            "p50_ms": milliseconds(at: 50), "p90_ms": milliseconds(at: 90), "p99_ms": milliseconds(at: 99),
            "p99_9_ms": milliseconds(at: 99.9), "max_ms": count == 0 ? 0 : Double(histogram.max) / 1000,
            "mean_ms": count == 0 ? 0 : histogram.mean / 1000,
        ]
    }

    init(from decoder: any Decoder) throws {
        let pairs = try decoder.singleValueContainer().decode([[UInt64]].self)
        for pair in pairs where pair.count == 2 { _ = histogram.record(pair[0], count: pair[1]) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(histogram.recordedValues().map { [$0.value, UInt64($0.count)] })
    }
}
