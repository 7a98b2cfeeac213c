import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How a long-running command waits for its end: SIGINT, SIGTERM, or (with --exit-with-stdin) its standard input
/// closing, which is how `gateway dev` and the tests make sure no component outlives them.
enum Lifecycle {
    /// Returns when the process is asked to stop.
    static func waitForStop(watchStdin: Bool) async {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let stream = AsyncStream<Void> { continuation in
            nonisolated(unsafe) let sources = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { continuation.yield() }
                source.resume()
                return source
            }
            if watchStdin {
                let thread = Thread {
                    while FileHandle.standardInput.availableData.count > 0 {}
                    continuation.yield()
                }
                thread.start()
            }
            continuation.onTermination = { _ in sources.forEach { $0.cancel() } }
        }
        for await _ in stream { return }
    }

    /// Prints a line on standard output at once (the dev cluster and the tests read these lines).
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// Parses durations such as `90s`, `30m`, `1h`, `7d`.
func parseDuration(_ text: String) -> Duration? {
    let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
    guard let unit = text.last, let factor = units[unit], let value = Int64(text.dropLast()), value > 0 else {
        return Int64(text).flatMap { $0 > 0 ? .seconds($0) : nil }
    }
    return .seconds(value * factor)
}
