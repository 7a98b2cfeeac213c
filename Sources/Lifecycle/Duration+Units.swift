import NIOCore

extension Duration {
    /// Whole nanoseconds, saturating at the limits of `Int64` and truncated toward zero: the one conversion from
    /// `Duration`'s components. Every other unit below derives from it.
    public var inNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowSum) = ns.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowSum ? (seconds < 0 ? .min : .max) : sum
    }

    /// Whole milliseconds, truncated toward zero (Redis TTLs, librdkafka timeouts, settings in ms).
    public var inMilliseconds: Int64 { inNanoseconds / 1_000_000 }

    /// Seconds as a floating-point number (for `Date` arithmetic and messages).
    public var inSeconds: Double { Double(inNanoseconds) / 1e9 }

    /// The same span as NIO's `TimeAmount`.
    public var timeAmount: TimeAmount { .nanoseconds(inNanoseconds) }
}
