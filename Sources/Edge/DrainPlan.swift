import Lifecycle
import Shared

/// How a stopping edge hands its devices to the other edges (see ``DrainPlan``).
public struct DrainSettings: Sendable, Equatable {
    /// Devices told per second (flag --drain-rate, env CG_DRAIN_RATE).
    public var rate = 1_000
    /// Time from the stop signal to the process exiting (flag --drain-deadline, env CG_DRAIN_DEADLINE).
    public var deadline = Duration.seconds(30)
    /// The largest `delay` a `reconnect` frame asks for.
    public var jitter = Duration.seconds(1)
    /// Kept at the end of the deadline for the last devices to close and the edge to release its routes.
    public var finalMargin = Duration.seconds(3)

    public init() {}
}

/// When each device of a draining edge is told to reconnect elsewhere, so that the other edges see a steady stream
/// of reconnects rather than a storm, and the edge still finishes within its deadline.
///
/// Guarantees: devices are told at no more than `settings.rate` per second unless that cannot finish in time, in
/// which case the rate rises just enough for the last device to be told `settings.finalMargin` before the deadline.
/// Each device also waits a random part of `settings.jitter` (the `delay` of its `reconnect` frame) before it
/// reconnects, which smooths the waves further.
struct DrainPlan: Equatable {
    /// Waves are this far apart.
    static let waveInterval = Duration.milliseconds(100)

    /// The rate the plan uses, devices per second.
    let rate: Int
    let devices: Int

    init(devices: Int, settings: DrainSettings) {
        self.devices = devices
        let available = max(settings.deadline - settings.finalMargin, .milliseconds(100))
        let seconds = available.inSeconds
        let needed = Int((Double(devices) / seconds).rounded(.up))
        rate = max(settings.rate, needed, 1)
    }

    /// How many devices each wave tells (the last wave may tell fewer).
    var perWave: Int {
        let waveSeconds = Self.waveInterval.inSeconds
        return max(1, Int((Double(rate) * waveSeconds).rounded(.up)))
    }

    /// The number of waves.
    var waves: Int { (devices + perWave - 1) / perWave }

    /// The devices (as indexes into the list being drained) told in wave `wave`.
    func wave(_ wave: Int) -> Range<Int> {
        let start = wave * perWave
        return start..<min(start + perWave, devices)
    }
}
