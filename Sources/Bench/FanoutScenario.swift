import ArgumentParser
import Foundation

/// `gateway-bench fanout`: devices subscribed to one topic over several edges; a backend (this process) publishes
/// topic records to `<prefix>.topics` and every edge delivers them to its local subscribers.
///
/// Modes:
/// - `broadcast` (100,000 subscribers, 6 edges): single messages, one at a time (publish-to-device latency at every
///   subscriber), then `--rate` messages/s for `--duration` s: deliveries/s in total and per edge, edge CPU per
///   delivery, and whether any subscriber fell behind (had not received the last message 1 s after it was published)
///   or got a `gap`.
/// - `edge` (19,000 subscribers, 1 edge): the same at a high rate, for what one edge delivers per second.
/// - `storm` (15,000 subscribers, 3 edges): every device disconnects, `--missed` messages are published, and all
///   reconnect (each to the next edge) and resume after their last position; the time until every one has every
///   missed message.
struct FanoutScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fanout", abstract: "Topic fan-out: latency, deliveries/s, reconnect storm.")

    @OptionGroup var options: BenchOptions
    @Option(help: "broadcast, edge or storm.") var mode = "broadcast"
    @Option(help: "Subscribers (default: 100000 broadcast, 19000 edge, 15000 storm).") var subscribers: Int?
    @Option(help: "Edges the subscribers are spread over (default: 6 broadcast, 1 edge, 3 storm).") var edges: Int?
    @Option(help: "Messages per second in the sustained phase (default: 100 broadcast, 50 edge).") var rate: Double?
    @Option(help: "Seconds of the sustained phase.") var duration = 10.0
    @Option(help: "Single messages published one at a time, each after the previous reached every subscriber.") var probes = 5
    @Option(help: "Seconds allowed after the sustained phase for every delivery to arrive.") var drain = 30.0
    @Option(help: "Storm: messages published while the devices are away.") var missed = 100
    @Option(help: "Storm: seconds allowed for every device to catch up.") var limit = 30.0
    @Option(help: "Devices connecting at once, per worker.") var concurrency = 256
    @Option(help: "The topic.") var topic = "bench.fanout"

    func validate() throws {
        guard ["broadcast", "edge", "storm"].contains(mode) else { throw ValidationError("--mode: broadcast, edge or storm") }
        guard rate.map({ $0 > 0 }) ?? true else { throw ValidationError("--rate must be positive") }
    }

    func run() async throws { _ = try await execute() }

    func execute() async throws -> BenchResult {
        let devices = subscribers ?? ["broadcast": 100_000, "edge": 19_000, "storm": 15_000][mode]!
        let edgeCount = edges ?? ["broadcast": 6, "edge": 1, "storm": 3][mode]!
        let run = try ScenarioRun(.fanout, options: options, cluster: .init(edges: edgeCount))
        defer { run.finish() }
        let urls = run.cluster.edgeURLs
        let plans = WorkerFleet.plans(devices: devices) { w, first, count in
            var plan = options.plan(.fanout, worker: w, first: first, count: count, urls: urls, connectConcurrency: concurrency)
            plan.topic = topic
            return plan
        }
        let connected = try await run.connect(plans)
        guard let fleet = run.fleet, connected.connected > 0 else { throw BenchError("no subscriber connected") }
        let publisher = try FanoutPublisher(bootstrap: run.cluster.cluster.broker.bootstrap, topic: topic,
                                            payloadBytes: options.payloadBytes)
        defer { publisher.stop() }
        let probe = FanoutProbe(run: run, fleet: fleet, publisher: publisher, subscribers: connected.subscribed)

        var parameters = ["mode": mode, "subscribers": "\(devices)", "edges": "\(edgeCount)", "topic": topic,
                          "workers": "\(plans.count)"]
        // Every subscriber gets one message first, so each has a position and the path is warm.
        try await probe.publishAndWait(label: "warm-up", timeout: 120)
        var result: BenchResult
        if mode == "storm" {
            parameters["missed"] = "\(missed)"
            result = run.result(parameters)
            try await probe.storm(missed: missed, limit: limit, into: &result)
        } else {
            let rate = rate ?? (mode == "edge" ? 50 : 100)
            parameters["rate"] = "\(rate)"
            parameters["duration_s"] = "\(duration)"
            parameters["probes"] = "\(probes)"
            result = run.result(parameters)
            try await probe.singleMessages(probes, into: &result)
            try await probe.sustained(rate: rate, duration: duration, drain: drain, into: &result)
            addGoals(&result, rate: rate, devices: connected.subscribed, edges: edgeCount)
        }
        result.figures["subscribed"] = Double(connected.subscribed)
        result.figures["failed"] = Double(connected.failed)
        result.figures["publish_errors"] = Double(publisher.errors)
        result.notes.append("2 cores: the \(plans.count) worker process(es) decoding every delivery share them with the edges, Tansu and Redis"
                            + (mode == "storm" ? "" : "; generator_cores says how much they took"))
        result.notes.append("latency runs from the publisher's produce call to the device decoding the event (Tansu fetch wait 5 ms)")
        try result.write(to: options.results)
        return result
    }

    private func addGoals(_ result: inout BenchResult, rate: Double, devices: Int, edges: Int) {
        let f = result.figures
        if mode == "broadcast" {
            let p99 = f["single_message_p99_ms"] ?? -1
            let reachedAll = f["single_message_behind"] == 0
            result.goal("one message to \(devices) subscribers on \(edges) edges, p99",
                        target: "<= 1000 ms", measured: p99, met: reachedAll && p99 >= 0 && p99 <= 1000)
            let p99Sustained = f["sustained_p99_ms"] ?? -1
            let kept = f["sustained_behind"] == 0 && f["gaps"] == 0 && p99Sustained >= 0 && p99Sustained <= 1000
            result.goal("\(Int(rate)) messages/s to \(devices) subscribers: all keep up (p99 of every delivery)",
                        target: "<= 1000 ms, none behind, no gap", measured: p99Sustained, met: kept)
        } else {
            let perEdge = f["edge_deliveries_per_s_max"] ?? 0
            result.goal("topic deliveries/s to local subscribers at one edge", target: ">= 300000/s", measured: perEdge,
                        met: perEdge >= 300_000)
        }
    }
}
