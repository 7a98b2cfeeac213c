import NIOConcurrencyHelpers
import NIOCore

/// The edge's ``ConnectionTable``, shared by every event loop under one lock, with a count of the connections it
/// refused and a rule for how often to log refusals.
///
/// Guarantees: one short critical section per accepted and per closed connection (a dictionary lookup, no
/// allocation for a known peer); refusals are counted by reason, and at most one log line per reason is due every
/// ``logInterval`` (it carries the number refused since the previous line), so a flood cannot flood the log too.
final class ConnectionLimiter: Sendable {
    typealias Refusal = ConnectionTable.Refusal

    /// What to do with a new connection.
    enum Verdict: Equatable {
        case admitted
        /// Refused; `report` is non-nil when a log line is due, with the number refused for this reason since the last.
        case refused(Refusal, report: Int?)
    }

    static let logInterval: UInt64 = 10 * 1_000_000_000

    private struct State {
        var table: ConnectionTable
        var refused: [Refusal: Int] = [:]
        var unreported: [Refusal: Int] = [:]
        var reportedAt: [Refusal: UInt64] = [:]
    }

    let limits: ConnectionTable.Limits
    private let state: NIOLockedValueBox<State>

    init(limits: ConnectionTable.Limits) {
        self.limits = limits
        state = NIOLockedValueBox(State(table: ConnectionTable(limits: limits)))
    }

    /// Admits a connection from `peer` or refuses it.
    func admit(_ peer: PeerKey, now: UInt64 = NIODeadline.now().uptimeNanoseconds) -> Verdict {
        state.withLockedValue { state in
            guard let refusal = state.table.admit(peer, now: now) else { return .admitted }
            state.refused[refusal, default: 0] += 1
            state.unreported[refusal, default: 0] += 1
            if let last = state.reportedAt[refusal], now < last + Self.logInterval { return .refused(refusal, report: nil) }
            state.reportedAt[refusal] = now
            defer { state.unreported[refusal] = 0 }
            return .refused(refusal, report: state.unreported[refusal])
        }
    }

    /// Releases a connection that ``admit(_:now:)`` admitted.
    func release(_ peer: PeerKey, now: UInt64 = NIODeadline.now().uptimeNanoseconds) {
        state.withLockedValue { $0.table.release(peer, now: now) }
    }

    /// Connections admitted and not yet closed.
    var open: Int { state.withLockedValue { $0.table.open } }

    /// Connections refused since the edge started, by reason.
    var refused: [Refusal: Int] { state.withLockedValue { $0.refused } }
}
