import ArgumentParser
import Foundation

/// `gateway-bench upstream`: devices send to a service without a backend as fast as their window of unacked
/// messages allows (or at a fixed rate); reports acked messages per second and the ack latency.
struct UpstreamScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "upstream", abstract: "Device → Kafka throughput through one edge.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Sending devices.") var devices = 100
    @Option(help: "Unacked messages each device keeps in flight (when --rate is 0).") var window = 64
    @Option(help: "Messages per second over all devices; 0 sends as fast as acks come back.") var rate = 0.0
    @Option(help: "Seconds of warm-up.") var warmup = 5.0
    @Option(help: "Seconds measured.") var duration = 20.0
    @Option(help: "Worker processes.") var workers = 1
    @Flag(help: "The edge serves TLS with a self-signed certificate made for the run; devices connect with wss:// and trust it.")
    var tls = false

    func run() async throws { _ = try await execute() }

    func execute() async throws -> BenchResult {
        let certificate = tls ? try BenchCertificate.make(.upstream, options: options) : nil
        let run = try ScenarioRun(.upstream, options: options, cluster: .init(edges: 1, tls: certificate))
        defer { run.finish() }
        let urls = run.cluster.edgeURLs
        let plans = WorkerFleet.plans(devices: devices, minimumWorkers: workers) { w, first, count in
            var plan = options.plan(.upstream, worker: w, first: first, count: count, urls: urls,
                                    rate: rate / Double(workers), window: window)
            plan.trustRootsFile = certificate?.certificate
            return plan
        }
        _ = try await run.connect(plans)
        let m = try await run.measure(warmup: warmup, duration: duration)
        var result = run.result(["devices": "\(devices)", "window": "\(window)", "rate": "\(rate)",
                                 "duration_s": "\(duration)", "workers": "\(workers)", "tls": "\(tls)"])
        result.components(from: m.before, to: m.after, seconds: m.seconds)
        let acked = Double(m.report.acked) / m.seconds
        result.figures["acked_per_s"] = acked
        result.figures["sent_per_s"] = Double(m.report.sent) / m.seconds
        result.figures["refused"] = Double(m.report.refused)
        for (k, v) in (m.report.latency ?? LatencyHistogram()).summary { result.figures["ack_latency_\(k)"] = v }
        result.goal("acked messages/s through one edge (\(options.payloadBytes)-byte payloads, \(options.encoding)\(tls ? ", TLS at the edge" : ""))",
                    target: ">= 50000/s", measured: acked, met: acked >= 50_000)
        if let error = m.report.firstError { result.notes.append("first error: \(error)") }
        try result.write(to: options.results)
        return result
    }
}
