import Dispatch

/// libdispatch opens one timer descriptor (a timerfd) per clock it times with (uptime, monotonic, wall), the first
/// time a timer on that clock is armed, and traps (SIGILL, without a message) when it cannot. `Task.sleep`,
/// `asyncAfter` and Foundation's timers all go through those timers. So a process that has run out of file
/// descriptors crashed on its first timer of a clock not used before: an edge past its open-file limit (accept failing
/// with EMFILE) died a second later in a test run.
public enum DispatchTimerClocks {
    /// Arms one short timer on each clock and waits for all three, so that their descriptors exist before the process
    /// can run out. Once open they stay open: later timers need no new descriptor.
    public static func open() async {
        // Uptime: DispatchTime, and the suspending clock.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(1)) { done.resume() }
        }
        // Wall: DispatchWallTime.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().asyncAfter(wallDeadline: .now() + .milliseconds(1)) { done.resume() }
        }
        // Monotonic: Swift concurrency's continuous clock, the one `Task.sleep(for:)` uses.
        try? await Task.sleep(for: .milliseconds(1))
    }
}
