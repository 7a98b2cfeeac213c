import ChaosCheck
import Foundation

/// The one-screen summary of a chaos run.
enum ChaosSummary {
    static func print(_ ledger: ChaosLedger, _ verdict: ChaosVerdict) {
        let c = verdict.counts
        let kinds = Dictionary(grouping: ledger.faults, by: \.kind).map { "\($0.key) \($0.value.count)" }.sorted()
        var lines = [
            "chaos summary: seed \(ledger.seed), load for \(Int(ledger.loadStoppedAt)) s, \(ledger.faults.count) faults (\(kinds.joined(separator: ", ")))",
            "  device → service: \(c["upstream_acked"] ?? 0) acked, \(c["upstream_lost"] ?? 0) lost, \(c["upstream_repeats_same_id"] ?? 0) repeats (same id)",
            "  → device: \(c["downstream_taken"] ?? 0) taken, \(c["downstream_delivered"] ?? 0) delivered in time, "
                + "\(c["downstream_expired_reported"] ?? 0) expired (reported), \(c["downstream_lost"] ?? 0) lost, "
                + "\(c["downstream_same_id_repeats_dropped_by_clients"] ?? 0) repeats dropped by clients, "
                + "\(c["downstream_same_id_repeats_across_connections"] ?? 0) across connections (same id)",
            "  topic: \(c["topic_published"] ?? 0) published, \(c["topic_deliveries_owed"] ?? 0) deliveries owed, "
                + "\(c["topic_covered_by_gap"] ?? 0) covered by a gap, \(c["topic_missing"] ?? 0) missing",
            "  devices: \(c["device_connection_losses"] ?? 0) lost their edge",
        ]
        for invariant in verdict.invariants {
            lines.append("  \(invariant.holds ? "ok  " : "FAIL") \(invariant.name) (\(invariant.violations) of \(invariant.checked))")
            lines += invariant.examples.map { "         \($0)" }
        }
        lines.append("  recovery, from a fault's end until every component is ready (s):")
        for r in verdict.recoveries {
            lines.append("    \(r.kind.padding(toLength: 20, withPad: " ", startingAt: 0)) \(r.count)×  p50 \(String(format: "%.1f", r.p50))  max \(String(format: "%.1f", r.max))"
                         + (r.neverRecovered > 0 ? "  never: \(r.neverRecovered)" : ""))
        }
        lines.append(verdict.holds ? "chaos: every invariant held" : "chaos: INVARIANTS BROKEN")
        say(lines.joined(separator: "\n"))
    }
}
