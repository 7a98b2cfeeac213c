/// A producer's generations and whether it takes records, as a value free of librdkafka, so that its rules are
/// unit-tested without a broker.
///
/// A generation is one librdkafka producer. A fatal error (for example a broker fencing the idempotent producer after
/// its messages timed out) makes a generation unusable for good, so the producer replaces it: exactly one
/// replacement per failed generation, none once closing. The first close fixes the deadline of the final flush;
/// later closes change nothing. Every generation ever made stays listed (``all``), so that a shutdown waits for each.
///
/// Health: from a generation's failure until its replacement is current (while it is being made, and for as long as
/// it cannot be made) the producer cannot deliver, and ``failure`` says why; a late report of a retired generation
/// changes nothing.
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
    /// Why the current generation failed, from its failure until its replacement is current.
    private var failedBecause: String?
    /// Why the last attempt to replace it failed, if it did.
    private var replacementError: String?

    /// Why the producer cannot deliver now, or nil while it can.
    var failure: String? {
        guard let failedBecause else { return nil }
        guard let replacementError else { return "failed (\(failedBecause)); replacing it" }
        return "failed (\(failedBecause)); cannot replace it: \(replacementError)"
    }

    /// Replacements made so far.
    var replacements: Int { number - 1 }

    /// The failed generation whose replacement could not be made, and why it failed: what to ask
    /// ``fatal(in:because:)`` for again. Nil while it is fine, being replaced, or closing.
    var awaitingReplacement: (generation: Int, reason: String)? {
        guard phase == .open, let failedBecause else { return nil }
        return (number, failedBecause)
    }

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

    /// Generation `failed` hit a fatal error (`reason`). Returns the number its replacement gets, or nil when there is
    /// nothing to do: an older generation, a replacement already under way, or closing.
    mutating func fatal(in failed: Int, because reason: String) -> Int? {
        guard phase == .open, failed == number else { return nil }
        phase = .replacing
        failedBecause = reason
        replacementError = nil
        return number + 1
    }

    /// The replacement asked for by ``fatal(in:because:)`` is ready.
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
        failedBecause = nil
        replacementError = nil
        return .retire(failed)
    }

    /// The replacement could not be made (`error`): the failed generation stays current, and ``failure`` says so until a
    /// later attempt (``fatal(in:because:)``, asked by the next send it refuses or a health check) succeeds.
    mutating func replacementFailed(_ error: String) {
        guard phase == .replacing else { return }
        phase = .open
        replacementError = error
    }
}
