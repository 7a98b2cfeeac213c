/// Whether a producer takes records, as a value free of librdkafka: open until the first close, which fixes the
/// deadline of the final flush; later closes change nothing.
struct ProducerState {
    enum Phase: Equatable {
        case open
        case closing(flushUntil: ContinuousClock.Instant)
    }

    private(set) var phase = Phase.open

    /// Whether a record may be enqueued now. Checked under the same lock as the close, so that no record slips in
    /// after the final flush began.
    var takesRecords: Bool { phase == .open }

    /// Closes. Returns the flush deadline to hand the poll thread, or nil when a close was already under way (its
    /// deadline holds).
    mutating func close(flushUntil deadline: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard phase == .open else { return nil }
        phase = .closing(flushUntil: deadline)
        return deadline
    }
}
