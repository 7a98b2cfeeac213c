import ChaosCheck
import Foundation
import NIOConcurrencyHelpers

/// The chaos run's ledger behind a lock, and the run's clock: every part of the run writes what it saw here.
final class ChaosRecorder: Sendable {
    private let ledger: NIOLockedValueBox<ChaosLedger>
    private let start = ContinuousClock.now

    init(seed: UInt64) {
        ledger = NIOLockedValueBox(ChaosLedger(seed: seed))
    }

    /// Seconds since the run started.
    var now: Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    func record(_ change: (inout ChaosLedger) -> Void) {
        ledger.withLockedValue { change(&$0) }
    }

    func read<T>(_ body: (ChaosLedger) -> T) -> T {
        ledger.withLockedValue { body($0) }
    }

    var snapshot: ChaosLedger { ledger.withLockedValue { $0 } }
}

/// A small seeded generator (SplitMix64), so that a run's faults and their timing repeat with its seed.
struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
