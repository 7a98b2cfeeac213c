import Foundation

/// What a long-running command tells the process that started it (`gateway dev`, the tests, an operator's shell).
enum Console {
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
