import DevCluster
import Foundation

/// Counters read from a component's Prometheus endpoint (`/metrics` on its admin port), with `curl`.
enum EdgeCounters {
    /// The sum of every series of `name` (all label sets), or nil when the endpoint cannot be read.
    static func read(_ name: String, adminURL: String) -> Double? {
        guard let curl = LocalProcess.find("curl"),
              let (status, output) = try? LocalProcess.runToEnd(curl, ["-sf", "--max-time", "5", "\(adminURL)/metrics"]),
              status == 0 else { return nil }
        var sum = 0.0
        for line in output.split(separator: "\n") where line.hasPrefix(name) {
            let rest = line.dropFirst(name.count)
            guard rest.first == " " || rest.first == "{" else { continue }
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { sum += value }
        }
        return sum
    }
}
