import ArgumentParser
import Foundation

/// `gateway-bench roundtrip`: devices send to the echo service on a fixed schedule and time each reply, from when
/// the message was due (so a generator or gateway that falls behind cannot hide it: coordinated omission).
struct RoundtripScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "roundtrip", abstract: "Device → echo → device latency at a fixed rate.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Devices.") var devices = 1_000
    @Option(help: "Round trips per second over all devices.") var rate = 2_000.0
    @Option(help: "Seconds of warm-up.") var warmup = 5.0
    @Option(help: "Seconds measured.") var duration = 30.0
    @Option(help: "Consumers' fetch.wait.max.ms (Tansu answers a fetch only when it runs out).") var fetchWaitMs = 5
    @Option(help: "Producers' linger.ms.") var lingerMs = 2

    func run() async throws { _ = try await execute() }

    func execute() async throws -> BenchResult {
        let run = try ScenarioRun(.roundtrip, options: options,
                                  cluster: .init(edges: 1, echo: true, fetchWaitMs: fetchWaitMs, lingerMs: lingerMs))
        defer { run.finish() }
        let urls = run.cluster.edgeURLs
        let plans = WorkerFleet.plans(devices: devices) { w, first, count in
            options.plan(.roundtrip, worker: w, first: first, count: count, urls: urls, service: "echo", rate: rate)
        }
        _ = try await run.connect(plans)
        let m = try await run.measure(warmup: warmup, duration: duration)
        var result = run.result(["devices": "\(devices)", "rate": "\(rate)", "duration_s": "\(duration)",
                                 "fetch_wait_ms": "\(fetchWaitMs)", "linger_ms": "\(lingerMs)"])
        result.components(from: m.before, to: m.after, seconds: m.seconds)
        let latency = m.report.latency ?? LatencyHistogram()
        for (k, v) in latency.summary { result.figures["roundtrip_\(k)"] = v }
        result.figures["sent_per_s"] = Double(m.report.sent) / m.seconds
        result.figures["replies_per_s"] = Double(m.report.received) / m.seconds
        result.figures["refused"] = Double(m.report.refused)
        let p99 = latency.milliseconds(at: 99)
        result.goal("round trip p99 at \(Int(rate))/s over \(devices) devices", target: "<= 20 ms", measured: p99, met: p99 <= 20 && latency.count > 0)
        result.notes.append("latency runs from when each message was due to when its reply arrived (coordinated omission corrected)")
        try result.write(to: options.results)
        return result
    }
}
