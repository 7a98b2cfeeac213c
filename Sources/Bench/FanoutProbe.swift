import Foundation

/// The phases of the fanout scenario, on a running cluster with every subscriber connected: single messages, a
/// sustained rate, and the reconnect storm. Each adds its figures to the result.
///
/// Every subscriber should receive every message published exactly once, so the workers' total of received events
/// is compared with subscribers × published.
final class FanoutProbe: @unchecked Sendable {
    let run: ScenarioRun
    let fleet: WorkerFleet
    let publisher: FanoutPublisher
    let subscribers: Int
    private var round = 0

    init(run: ScenarioRun, fleet: WorkerFleet, publisher: FanoutPublisher, subscribers: Int) {
        self.run = run
        self.fleet = fleet
        self.publisher = publisher
        self.subscribers = subscribers
    }

    private var name: String { run.scenario.rawValue }
    /// Every delivery due so far.
    private var due: Int { subscribers * publisher.published }

    /// Publishes one message and waits until every subscriber has it.
    func publishAndWait(label: String, timeout: Double) async throws {
        publisher.publishOne()
        try await waitForDeliveries(label: label, timeout: timeout)
    }

    /// Waits until every delivery due has arrived; returns the seconds it took, or nil after `timeout`.
    @discardableResult
    func waitForDeliveries(label: String, timeout: Double) async throws -> Double? {
        let started = Date()
        do {
            try await fleet.wait(timeout: timeout, progress: { t in
                "  \(label): received \(t.receivedSinceStart)/\(self.due), gaps \(t.gaps) after \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
            }, until: { $0.receivedSinceStart >= self.due })
            return Date().timeIntervalSince(started)
        } catch let error as BenchError {
            print("\(name): \(error)")
            return nil
        }
    }

    private func collect(expecting sequence: Int? = nil) async throws -> WorkerReport {
        round += 1
        return try await fleet.collect(round, sequence.map { "\($0)" } ?? "")
    }

    /// `count` messages, each published once the previous reached every subscriber: the latency of one message to all.
    func singleMessages(_ count: Int, into result: inout BenchResult) async throws {
        guard count > 0 else { return }
        fleet.command("measure")
        try await Task.sleep(for: .milliseconds(500))
        _ = try await collect()
        var slowest = 0.0
        for i in 0..<count {
            publisher.publishOne()
            let seconds = try await waitForDeliveries(label: "single message \(i + 1)/\(count)", timeout: 60)
            slowest = max(slowest, seconds ?? -1)
            try await Task.sleep(for: .milliseconds(300))
        }
        let report = try await collect(expecting: publisher.published - 1)
        for (k, v) in (report.latency ?? LatencyHistogram()).summary { result.figures["single_message_\(k)"] = v }
        result.figures["single_message_behind"] = Double(report.behind)
        result.figures["single_message_slowest_all_received_s"] = slowest
    }

    /// `rate` messages/s for `duration` seconds; then up to `drain` seconds for the rest to arrive.
    func sustained(rate: Double, duration: Double, drain: Double, into result: inout BenchResult) async throws {
        let edges = run.cluster.cluster.edges.map(\.id)
        let adminURLs = edges.map { run.cluster.cluster.adminURL($0) ?? "" }
        func deliveries() -> [Double] {
            adminURLs.map { EdgeCounters.read("cg_edge_topic_deliveries_total", adminURL: $0) ?? .nan }
        }
        let start = try await collect()
        let deliveredBefore = deliveries()
        let before = run.cluster.snapshot()
        let generatorBefore = fleet.pids.compactMap { ProcessStats.read(pid: $0)?.cpuSeconds }.reduce(0, +)
        print("\(name): publishing \(Int(rate)) messages/s for \(Int(duration)) s to \(subscribers) subscribers")
        let started = Date()
        let progress = Task {
            var last = fleet.total().receivedSinceStart
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                let now = fleet.total()
                print("  received \(now.receivedSinceStart - last)/s, due \(self.due - now.receivedSinceStart) more, gaps \(now.gaps)")
                last = now.receivedSinceStart
            }
        }
        let published = try await publisher.publish(rate: rate, seconds: duration)
        let window = Date().timeIntervalSince(started)
        let deliveredAfter = deliveries()
        let after = run.cluster.snapshot()
        let generatorAfter = fleet.pids.compactMap { ProcessStats.read(pid: $0)?.cpuSeconds }.reduce(0, +)
        progress.cancel()

        // A subscriber keeps up if it has the last message 1 s after it was published.
        try await Task.sleep(for: .seconds(1))
        let atOneSecond = try await collect(expecting: publisher.published - 1)
        let drained = try await waitForDeliveries(label: "draining", timeout: drain)
        let end = try await collect(expecting: publisher.published - 1)

        var latency = atOneSecond.latency ?? LatencyHistogram()
        latency.add(end.latency ?? LatencyHistogram())
        for (k, v) in latency.summary { result.figures["sustained_\(k)"] = v }
        result.components(from: before, to: after, seconds: window)
        var figures: [String: Double] = [:]
        func f(_ key: String, _ value: Double) { figures[key] = value }
        f("sustained_published", Double(published))
        f("sustained_window_s", window)
        f("sustained_offered_deliveries_per_s", Double(published * subscribers) / window)
        f("sustained_received_per_s_window", Double(atOneSecond.received - start.received) / (window + 1))
        f("sustained_behind", Double(atOneSecond.behind))
        f("sustained_behind_after_drain", Double(end.behind))
        f("sustained_all_delivered_after_s", drained ?? -1)
        f("gaps", Double(end.gaps))
        f("duplicates", Double(end.duplicates))
        f("generator_cores", (generatorAfter - generatorBefore) / window)

        var total = 0.0
        var edgeCPU = 0.0
        var perEdge: [Double] = []
        for (i, id) in edges.enumerated() {
            let delivered = deliveredAfter[i] - deliveredBefore[i]
            let cpu = (after[id]?.cpuSeconds ?? 0) - (before[id]?.cpuSeconds ?? 0)
            total += delivered
            edgeCPU += cpu
            perEdge.append(delivered / window)
            f("\(id)_deliveries_per_s", delivered / window)
            if delivered > 0 { f("\(id)_cpu_us_per_delivery", cpu / delivered * 1e6) }
        }
        f("deliveries_per_s", total / window)
        f("edge_deliveries_per_s_max", perEdge.max() ?? 0)
        f("edge_deliveries_per_s_mean", perEdge.isEmpty ? 0 : perEdge.reduce(0, +) / Double(perEdge.count))
        if total > 0 {
            f("edge_cpu_us_per_delivery", edgeCPU / total * 1e6)
            f("generator_cpu_us_per_delivery", (generatorAfter - generatorBefore) / total * 1e6)
            // What one core of edge would deliver at that cost, with the generator elsewhere.
            f("edge_deliveries_per_core_s", total / edgeCPU)
        }
        result.figures.merge(figures) { $1 }
        result.notes.append("deliveries/s and CPU per delivery are over the publishing window, from each edge's cg_edge_topic_deliveries_total and /proc CPU time; behind = subscribers without the last message 1 s after it was published")
    }

    /// Every device disconnects, `missed` messages are published, and all reconnect and resume after their last
    /// position: the time from the word to resume until each has every missed message.
    func storm(missed: Int, limit: Double, into result: inout BenchResult) async throws {
        let edges = run.cluster.cluster.edges.map(\.id)
        let adminURLs = edges.map { run.cluster.cluster.adminURL($0) ?? "" }
        func counter(_ name: String) -> Double {
            adminURLs.map { EdgeCounters.read(name, adminURL: $0) ?? 0 }.reduce(0, +)
        }
        print("\(name): disconnecting \(subscribers) devices")
        fleet.command("disconnect")
        try await fleet.wait(timeout: 120, progress: { "  disconnected \($0.disconnected)/\(self.subscribers)" },
                             until: { $0.disconnected >= self.subscribers })
        let records = counter("cg_edge_topic_records_total")
        print("\(name): publishing \(missed) messages while they are away")
        _ = try await publisher.publish(rate: 1000, seconds: Double(missed) / 1000)
        try await publisher.flush()
        // Until every edge's feed has read them (the edges then serve them from memory).
        let deadline = Date().addingTimeInterval(10)
        while counter("cg_edge_topic_records_total") < records + Double(missed * edges.count) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let replayReads = counter("cg_edge_topic_replay_reads_total")
        let before = run.cluster.snapshot()
        let resumeAt = monotonicNanoseconds()
        let started = Date()
        print("\(name): all \(subscribers) devices reconnect and resume")
        fleet.command("resume \(resumeAt) \(missed)")
        do {
            try await fleet.wait(timeout: max(limit * 3, 60), progress: { t in
                "  caught up \(t.caughtUp)/\(self.subscribers), gaps \(t.gaps) after \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
            }, until: { $0.caughtUp >= self.subscribers })
        } catch let error as BenchError {
            print("\(name): \(error)")
        }
        let seconds = Date().timeIntervalSince(started)
        let after = run.cluster.snapshot()
        let report = try await collect(expecting: publisher.published - 1)
        result.components(from: before, to: after, seconds: seconds)
        let latency = report.latency ?? LatencyHistogram()
        for (k, v) in latency.summary { result.figures["caught_up_\(k)"] = v }
        let all = report.caughtUp >= subscribers
        let allSeconds = all ? (latency.summary["max_ms"] ?? 0) / 1000 : -1
        result.figures["devices_caught_up"] = Double(report.caughtUp)
        result.figures["all_caught_up_s"] = allSeconds
        result.figures["behind"] = Double(report.behind)
        result.figures["gaps"] = Double(report.gaps)
        result.figures["duplicates"] = Double(report.duplicates)
        result.figures["edge_replay_reads"] = counter("cg_edge_topic_replay_reads_total") - replayReads
        result.goal("\(subscribers) devices resume \(missed) missed messages", target: "within \(Int(limit)) s",
                    measured: allSeconds, met: all && allSeconds <= limit && report.gaps == 0)
        result.notes.append("times run from the word to resume (all devices reconnect at once, \(run.fleet?.plans.first?.connectConcurrency ?? 0) at a time per worker, each to the next edge) until the device has received every missed message; reconnect, hello and subscribe included")
    }
}
