import Foundation

/// One benchmark run's moving parts: the cluster, the worker processes, and the phases every scenario goes through
/// (connect, warm up, measure). Everything it started is stopped by ``finish()``.
final class ScenarioRun: @unchecked Sendable {
    let scenario: Scenario
    let options: BenchOptions
    let cluster: BenchCluster
    private(set) var fleet: WorkerFleet?
    let logDirectory: String
    /// CPU seconds the worker processes used until every device was connected (token minting included).
    private(set) var generatorConnectCPU = 0.0
    private(set) var devices = 0

    init(_ scenario: Scenario, options: BenchOptions, cluster settings: BenchCluster.Settings) throws {
        self.scenario = scenario
        self.options = options
        logDirectory = options.logDirectory(scenario)
        print("\(scenario.rawValue): starting a cluster (logs in \(logDirectory))")
        cluster = try BenchCluster(settings, options: options, logDirectory: logDirectory)
    }

    /// Starts the workers and waits until every device is connected or given up on.
    func connect(_ plans: [WorkerPlan], timeout: Double = 600) async throws -> WorkerReport {
        let devices = plans.reduce(0) { $0 + $1.devices }
        print("\(scenario.rawValue): connecting \(devices) devices from \(plans.count) worker process(es)")
        let fleet = try WorkerFleet(plans: plans, executable: options.benchExecutable, logDirectory: logDirectory)
        self.fleet = fleet
        let started = Date()
        try await fleet.wait(timeout: timeout, progress: { t in
            let seconds = Date().timeIntervalSince(started)
            return "  connected \(t.connected)/\(devices), failed \(t.failed), \(Int(Double(t.connected) / max(seconds, 0.001)))/s"
        }, until: { $0.connected + $0.failed >= devices && $0.phase != .connecting })
        let total = fleet.total()
        generatorConnectCPU = fleet.pids.compactMap { ProcessStats.read(pid: $0)?.cpuSeconds }.reduce(0, +)
        self.devices = devices
        if total.failed > 0 { print("  \(total.failed) devices could not connect; first error: \(total.firstError ?? "?")") }
        return total
    }

    struct Measured {
        var report: WorkerReport
        var seconds: Double
        var before: [String: ProcessStats]
        var after: [String: ProcessStats]
    }

    /// Starts traffic, lets it warm up, then measures for `duration` seconds and collects the workers' results.
    func measure(warmup: Double, duration: Double) async throws -> Measured {
        guard let fleet else { throw BenchError("no workers") }
        fleet.command("start")
        print("\(scenario.rawValue): traffic on, warming up \(Int(warmup)) s")
        try await Task.sleep(for: .seconds(warmup))
        fleet.command("measure")
        let before = cluster.snapshot()
        let started = Date()
        // The workers start counting from zero at "measure".
        var last = WorkerReport(worker: -1, phase: .running)
        print("\(scenario.rawValue): measuring \(Int(duration)) s")
        while Date().timeIntervalSince(started) < duration {
            try await Task.sleep(for: .seconds(1))
            let now = fleet.total()
            print("  sent \(now.sent - last.sent)/s, acked \(now.acked - last.acked)/s, received \(now.received - last.received)/s, refused \(now.refused)")
            last = now
        }
        let after = cluster.snapshot()
        let seconds = Date().timeIntervalSince(started)
        let report = try await fleet.stop()
        return Measured(report: report, seconds: seconds, before: before, after: after)
    }

    /// Stops the workers and the cluster.
    func finish() {
        fleet?.terminate()
        cluster.stop()
    }

    func result(_ parameters: [String: String]) -> BenchResult {
        var p = parameters
        p["encoding"] = options.encoding
        p["payload_bytes"] = "\(options.payloadBytes)"
        p["redis"] = options.redisCluster ? "cluster" : "standalone"
        if let replicas = options.redisMinReplicas { p["redis_min_replicas"] = "\(replicas)" }
        var result = BenchResult(scenario: scenario, parameters: p)
        if devices > 0 { result.figures["generator_cpu_us_per_connect"] = generatorConnectCPU / Double(devices) * 1e6 }
        return result
    }
}
