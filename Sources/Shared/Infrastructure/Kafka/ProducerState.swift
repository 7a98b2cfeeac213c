/// A producer's generations and whether it takes records, as a value free of librdkafka, so that its rules are
/// unit-tested without a broker.
///
/// A generation is one librdkafka producer. A fatal error (for example a broker fencing the idempotent producer after
/// its messages timed out) makes a generation unusable for good, so the producer replaces it: exactly one
/// replacement per failed generation, none once closing. The first close fixes the deadline of the final flush;
/// later closes change nothing. Every generation ever made stays listed (``all``), so that a shutdown waits for each.
struct ProducerState<Generation> {
    enum Phase: Equatable {
        case open
        /// The current generation failed and its replacement is being made.
        case replacing
        case closing(flushUntil: ContinuousClock.Instant)
    }

    /// What to do with a replacement that is ready.
    enum Replacement {
        /// It is current now: stop the failed generation.
        case retire(Generation)
        /// The producer began closing meanwhile: stop the replacement at once.
        case stopAtOnce
    }

    private(set) var phase = Phase.open
    private(set) var current: Generation
    /// The current generation's number; the first is 1.
    private(set) var number = 1
    /// Generations replaced (stopping or stopped), and a replacement made too late to be used.
    private(set) var retired: [Generation] = []

    init(first: Generation) {
        current = first
    }

    /// Whether a record may be enqueued now (on a failed generation it then fails at once, which says so). Checked under
    /// the same lock as the close, so that no record slips in after the final flush began.
    var takesRecords: Bool {
        if case .closing = phase { return false }
        return true
    }

    /// Every generation, the current one last.
    var all: [Generation] { retired + [current] }

    /// Closes. Returns the flush deadline to hand the current generation, or nil when a close was already under way
    /// (its deadline holds).
    mutating func close(flushUntil deadline: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        if case .closing = phase { return nil }
        phase = .closing(flushUntil: deadline)
        return deadline
    }

    /// Generation `failed` hit a fatal error. Returns the number its replacement gets, or nil when there is nothing to
    /// do: an older generation, a replacement already under way, or closing.
    mutating func fatal(in failed: Int) -> Int? {
        guard phase == .open, failed == number else { return nil }
        phase = .replacing
        return number + 1
    }

    /// The replacement asked for by ``fatal(in:)`` is ready.
    mutating func replaced(by replacement: Generation) -> Replacement {
        guard phase == .replacing else {
            retired.append(replacement)
            return .stopAtOnce
        }
        let failed = current
        retired.append(failed)
        current = replacement
        number += 1
        phase = .open
        return .retire(failed)
    }

    /// The replacement could not be made: the failed generation stays current, and the next send that it refuses as
    /// failed asks again (``fatal(in:)``).
    mutating func replacementFailed() {
        if phase == .replacing { phase = .open }
    }
}
