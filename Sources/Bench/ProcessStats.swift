import Foundation

/// Resident memory and CPU time of a process, read from /proc (Linux).
struct ProcessStats: Codable, Sendable {
    /// Resident set size in KiB (VmRSS).
    var rssKiB: Int
    /// User plus system CPU time in seconds.
    var cpuSeconds: Double

    static func read(pid: Int32) -> ProcessStats? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        // Fields after the command name (which may hold spaces) start after the last ')': state is field 3,
        // utime and stime are fields 14 and 15.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ProcessStats(rssKiB: rss, cpuSeconds: (user + system) / ticks)
    }
}
