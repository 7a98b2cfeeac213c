import ArgumentParser
import Foundation

/// `gateway-bench reconnect`: devices held by one edge, which is then killed (SIGKILL); reports how long until each
/// is welcomed by another edge. Devices use the client library's reconnecting `PersistentDevice` (jittered backoff).
struct ReconnectScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reconnect", abstract: "Time for the devices of a killed edge to reconnect elsewhere.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Devices on the edge that is killed.") var devices = 15_000
    @Option(help: "Edges, the first of which is killed.") var edges = 3
    @Option(help: "Seconds allowed for all devices to reconnect.") var limit = 30.0

    func run() async throws { _ = try await execute() }

    func execute() async throws -> BenchResult {
        let run = try ScenarioRun(.reconnect, options: options, cluster: .init(edges: max(edges, 2)))
        defer { run.finish() }
        let urls = run.cluster.edgeURLs
        let plans = WorkerFleet.plans(devices: devices) { w, first, count in
            options.plan(.reconnect, worker: w, first: first, count: count, urls: urls, connectConcurrency: 128)
        }
        let connected = try await run.connect(plans)
        guard let fleet = run.fleet else { throw BenchError("no workers") }
        try await Task.sleep(for: .seconds(2))
        let before = run.cluster.snapshot()
        print("reconnect: kill -9 edge-1 holding \(connected.connected) devices")
        let killedAt = monotonicNanoseconds()
        run.cluster.cluster.edges[0].process.crash()
        fleet.command("killed \(killedAt)")
        let started = Date()
        do {
            try await fleet.wait(timeout: max(limit * 3, 60), progress: { t in
                "  reconnected \(t.reconnected)/\(connected.connected) after \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
            }, until: { $0.reconnected >= connected.connected })
        } catch {
            print("reconnect: \(error)")
        }
        let after = run.cluster.snapshot()
        let final = try await fleet.stop()
        var result = run.result(["devices": "\(devices)", "edges": "\(edges)"])
        result.components(from: before, to: after, seconds: Date().timeIntervalSince(started))
        let latency = final.latency ?? LatencyHistogram()
        for (k, v) in latency.summary { result.figures["reconnect_\(k)"] = v }
        let all = final.reconnected >= connected.connected && connected.connected > 0
        let seconds = latency.count == 0 ? 0 : Double(latency.summary["max_ms"] ?? 0) / 1000
        result.figures["devices_connected_before"] = Double(connected.connected)
        result.figures["devices_reconnected"] = Double(final.reconnected)
        result.figures["all_reconnected_s"] = all ? seconds : -1
        result.goal("\(devices) devices of a killed edge connected elsewhere", target: "within \(Int(limit)) s",
                    measured: all ? seconds : -1, met: all && seconds <= limit)
        result.notes.append("times run from the kill to the device's next welcome, sampled every 20 ms")
        try result.write(to: options.results)
        return result
    }
}
