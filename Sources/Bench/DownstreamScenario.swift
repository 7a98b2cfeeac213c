import ArgumentParser
import Foundation
import Lifecycle
import Logging
import Shared

/// `gateway-bench downstream`: a backend (this process) publishes to online devices through `<prefix>.down`;
/// reports delivered messages per second through one router and the publish-to-device latency.
///
/// Without `--rate`, the publisher keeps at most `--backlog` messages per device published and not yet delivered,
/// so it measures what the gateway can deliver without filling mailboxes.
struct DownstreamScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "downstream", abstract: "Backend → device throughput through one router.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Online devices.") var devices = 1_000
    @Option(help: "Messages per second to publish; 0 publishes as fast as delivery keeps up.") var rate = 0.0
    @Option(help: "Messages per device published and not yet delivered, at most (when --rate is 0).") var backlog = 100
    @Option(help: "Edges the devices are spread over.") var edges = 1
    @Option(help: "Which device each message goes to: sequential (the devices in turn) or random.") var targets = "sequential"
    @Option(help: "Seconds of warm-up.") var warmup = 5.0
    @Option(help: "Seconds measured.") var duration = 20.0

    func validate() throws {
        guard targets == "sequential" || targets == "random" else { throw ValidationError("--targets: sequential or random") }
    }

    func run() async throws { _ = try await execute() }

    func execute() async throws -> BenchResult {
        let run = try ScenarioRun(.downstream, options: options, cluster: .init(edges: edges))
        defer { run.finish() }
        let urls = run.cluster.edgeURLs
        let plans = WorkerFleet.plans(devices: devices) { w, first, count in
            options.plan(.downstream, worker: w, first: first, count: count, urls: urls)
        }
        let connected = try await run.connect(plans)
        guard let fleet = run.fleet else { throw BenchError("no workers") }
        let names = plans.flatMap { p in (0..<p.devices).map { "\(p.devicePrefix)\(p.firstDevice + $0)" } }
        let publisher = try DownstreamPublisher(bootstrap: run.cluster.cluster.broker.bootstrap, devices: names,
                                                payloadBytes: options.payloadBytes, randomTargets: targets == "random")
        let limit = backlog * devices
        // A thread of its own: the publisher blocks, and must not hold a thread of the cooperative pool.
        DedicatedThread(name: "downstream-publisher") { [rate] _ in
            publisher.run(rate: rate) { published in published - fleet.total().receivedSinceStart < limit }
        }.start()
        defer { publisher.stop() }
        let m = try await run.measure(warmup: warmup, duration: duration)
        var result = run.result(["devices": "\(connected.connected)", "rate": "\(rate)", "backlog_per_device": "\(backlog)",
                                 "edges": "\(edges)", "duration_s": "\(duration)", "targets": targets])
        result.components(from: m.before, to: m.after, seconds: m.seconds)
        let delivered = Double(m.report.received) / m.seconds
        result.figures["delivered_per_s"] = delivered
        result.figures["publish_errors"] = Double(publisher.errors)
        if m.report.received > 0 {
            // The gateway's own cost: edges, routers, Redis and the broker (not the generator or the publisher).
            let cpu = result.components.values.reduce(0) { $0 + $1.cpuSeconds }
            result.figures["server_cpu_us_per_message"] = cpu / Double(m.report.received) * 1e6
            let redis = result.components.filter { $0.key.hasPrefix("redis") }.values.reduce(0) { $0 + $1.cpuSeconds }
            result.figures["cpu_us_per_message_redis_all_nodes"] = redis / Double(m.report.received) * 1e6
            for (name, use) in result.components {
                result.figures["cpu_us_per_message_\(name)"] = use.cpuSeconds / Double(m.report.received) * 1e6
            }
        }
        for (k, v) in (m.report.latency ?? LatencyHistogram()).summary { result.figures["publish_to_device_\(k)"] = v }
        if targets == "random" {
            result.goal("delivered messages/s to random devices", target: ">= 20000/s", measured: delivered, met: delivered >= 20_000)
            if rate > 0, let p99 = result.figures["publish_to_device_p99_ms"] {
                result.goal("p99 publish-to-device at \(Int(rate))/s", target: "<= 20 ms", measured: p99, met: p99 <= 20)
            }
        } else {
            result.goal("delivered messages/s through one router", target: ">= 40000/s", measured: delivered, met: delivered >= 40_000)
            if let cpu = result.figures["server_cpu_us_per_message"] {
                result.goal("server CPU per delivered message", target: "<= 35 µs", measured: cpu, met: cpu <= 35)
            }
        }
        result.notes.append("latency runs from the publisher's produce call to the device receiving the frame")
        try result.write(to: options.results)
        return result
    }
}
