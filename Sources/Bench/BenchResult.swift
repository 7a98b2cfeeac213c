import DevCluster
import Foundation

/// What one run measured, written as JSON under the results directory and printed as a one-screen summary.
struct BenchResult: Codable {
    var scenario: String
    var startedAt: String
    var commit: String
    var machine: Machine
    var parameters: [String: String]
    /// The headline numbers (rates, per-connection memory, latency percentiles in ms).
    var figures: [String: Double]
    /// Memory (KiB) and CPU seconds of each component over the measured phase.
    var components: [String: ComponentUse]
    /// Goals this scenario is checked against, with whether they were met.
    var goals: [Goal]
    var notes: [String]

    struct Machine: Codable {
        var cpus: Int
        var memoryGiB: Double
        var cpuModel: String
        var kernel: String
    }

    struct ComponentUse: Codable {
        var rssKiB: Int
        var cpuSeconds: Double
        /// CPU seconds over wall seconds of the measured phase (1.0 is one core busy).
        var cores: Double
    }

    struct Goal: Codable {
        var name: String
        var target: String
        var measured: Double
        var met: Bool
    }

    init(scenario: Scenario, parameters: [String: String]) {
        self.scenario = scenario.rawValue
        self.startedAt = ISO8601DateFormatter().string(from: Date())
        self.commit = Self.gitCommit()
        self.machine = Self.machine()
        self.parameters = parameters
        figures = [:]
        components = [:]
        goals = []
        notes = []
    }

    /// Records each component's use between two snapshots taken `seconds` apart.
    mutating func components(from before: [String: ProcessStats], to after: [String: ProcessStats], seconds: Double) {
        for (name, end) in after {
            let cpu = end.cpuSeconds - (before[name]?.cpuSeconds ?? 0)
            components[name] = ComponentUse(rssKiB: end.rssKiB, cpuSeconds: cpu, cores: seconds > 0 ? cpu / seconds : 0)
        }
    }

    mutating func goal(_ name: String, target: String, measured: Double, met: Bool) {
        goals.append(Goal(name: name, target: target, measured: measured, met: met))
    }

    /// Writes the result to `directory` and prints the summary; returns the file's path.
    @discardableResult
    func write(to directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(scenario)-\(Self.stamp()).json"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
        print(summary)
        print("result written to \(path)")
        return path
    }

    var summary: String {
        var lines = ["", "== \(scenario) (\(commit), \(machine.cpus) cores) =="]
        lines.append("parameters: " + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        for (key, value) in figures.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(key.padding(toLength: 34, withPad: " ", startingAt: 0)) \(Self.format(value))")
        }
        if !components.isEmpty {
            lines.append("  component          RSS MiB   CPU s   cores")
            for (name, use) in components.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(format: "%8.1f %7.1f %7.2f", Double(use.rssKiB) / 1024, use.cpuSeconds, use.cores))")
            }
        }
        for goal in goals {
            lines.append("  goal \(goal.met ? "MET   " : "MISSED") \(goal.name): \(goal.target), measured \(Self.format(goal.measured))")
        }
        lines.append(contentsOf: notes.map { "  note: \($0)" })
        return lines.joined(separator: "\n")
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e12 ? String(Int64(value)) : String(format: "%.2f", value)
    }

    static func stamp() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd'T'HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date())
    }

    static func gitCommit() -> String {
        guard let (status, output) = try? LocalProcess.runToEnd("/usr/bin/env", ["git", "describe", "--always", "--dirty"]),
              status == 0 else { return "unknown" }
        let commit = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? "unknown" : commit
    }

    static func machine() -> Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let kib = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        let kernel = ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "unknown")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return Machine(cpus: ProcessInfo.processInfo.activeProcessorCount, memoryGiB: (kib / 1_048_576 * 10).rounded() / 10,
                       cpuModel: model, kernel: kernel)
    }
}
