import ArgumentParser
import Foundation
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
    @Option(help: "Seconds of warm-up.") var warmup = 5.0
    @Option(help: "Seconds measured.") var duration = 20.0

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
                                                payloadBytes: options.payloadBytes)
        let limit = backlog * devices
        // A thread of its own: the publisher blocks, and must not hold a thread of the cooperative pool.
        Thread.detachNewThread { [rate] in
            publisher.run(rate: rate) { published in published - fleet.total().receivedSinceStart < limit }
        }
        defer { publisher.stop() }
        let m = try await run.measure(warmup: warmup, duration: duration)
        var result = run.result(["devices": "\(connected.connected)", "rate": "\(rate)", "backlog_per_device": "\(backlog)",
                                 "edges": "\(edges)", "duration_s": "\(duration)"])
        result.components(from: m.before, to: m.after, seconds: m.seconds)
        let delivered = Double(m.report.received) / m.seconds
        result.figures["delivered_per_s"] = delivered
        result.figures["publish_errors"] = Double(publisher.errors)
        for (k, v) in (m.report.latency ?? LatencyHistogram()).summary { result.figures["publish_to_device_\(k)"] = v }
        result.goal("delivered messages/s through one router", target: ">= 30000/s", measured: delivered, met: delivered >= 30_000)
        result.notes.append("latency runs from the publisher's produce call to the device receiving the frame")
        try result.write(to: options.results)
        return result
    }
}
