import ArgumentParser
import Foundation
import Lifecycle
import Shared

/// `gateway-bench api`: what `gateway api` costs to send messages to devices (docs/api.md, docs/performance.md).
///
/// Four phases, each on a fresh cluster. Three send `POST /v1/messages` from keep-alive connections in a closed loop
/// (requests/s, p50/p99 to the 201, which comes only once every record is durable in Kafka): one device per request,
/// the same asking for receipts (what they cost the router and Redis), and 100 devices per request. The fourth has
/// DownstreamPublisher produce the same records (`<prefix>.down`, 600 s ttl, the same payload size, no receipt)
/// straight to Kafka at the messages/s the batch phase reached. The API process's CPU per message is set against the
/// publisher's (this process, which does nothing else in that phase). The devices are offline, so every message goes
/// to a mailbox.
struct APIScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api", abstract: "HTTP API sends: requests/s, p99 to 201, CPU per message against producing to Kafka directly.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Keep-alive connections sending requests, each one at a time.") var connections = 16
    @Option(help: "Devices messages go to, in turn (offline: each message waits in a mailbox).") var devices = 5_000
    @Option(help: "Seconds of warm-up per phase.") var warmup = 3.0
    @Option(help: "Seconds measured per phase.") var duration = 10.0

    func validate() throws {
        // A batch names each device once (the API refuses a device listed twice).
        guard devices >= 100 else { throw ValidationError("--devices: at least 100, the batch phase's devices per request") }
    }

    func run() async throws { _ = try await execute() }

    func execute() async throws -> BenchResult {
        let names = (0..<devices).map { "api-bench-\($0)" }
        let data = Data(repeating: 0x2E, count: max(options.payloadBytes, 8)).base64EncodedString()
        var result: BenchResult?
        var batchRate = 0.0
        // Every phase runs on a cluster of its own. On one cluster, Tansu's CPU per record grew phase after phase,
        // whatever the phase sent (161, 329, 474 and 517 µs in four alternating single-send phases, 2026-12-07), so
        // a later phase was charged for the records of the ones before it.
        for (label, batch, receipt) in [("single", 1, false), ("single_receipt", 1, true), ("batch100", 100, false)] {
            let run = try ScenarioRun(.api, options: options, cluster: .init(api: true))
            defer { run.finish() }
            var figures = result ?? run.result(["connections": "\(connections)", "devices": "\(devices)",
                                                "duration_s": "\(duration)", "warmup_s": "\(warmup)",
                                                "clusters": "one per phase"])
            let messages = try await measureSends(label, batch: batch, receipt: receipt, names: names, data: data,
                                                  run: run, into: &figures)
            if batch == 100 { batchRate = messages }
            result = figures
        }
        guard var result else { throw BenchError("no phase ran") }
        let run = try ScenarioRun(.api, options: options, cluster: .init(api: true))
        defer { run.finish() }
        try await measureDirect(rate: max(batchRate, 1), names: names, run: run, into: &result)

        if let api = result.figures["batch100_api_cpu_us_per_message"], let direct = result.figures["direct_publisher_cpu_us_per_message"], direct > 0 {
            result.figures["batch100_api_cpu_over_direct"] = api / direct
        }
        result.notes.append("to_201 runs from writing a request to the end of its 201; a 201 comes once every record is durable in Kafka")
        result.notes.append("direct: DownstreamPublisher in this process (librdkafka, one producer) at the batch phase's messages/s; its CPU is this process's over the phase")
        result.notes.append("the API's CPU is the gateway api process only; the generator (this process) shares the machine's cores")
        result.notes.append("each phase ran on a fresh cluster, so no phase pays for the records an earlier one left in the broker")
        try result.write(to: options.results)
        return result
    }

    /// One phase of `POST /v1/messages` from keep-alive connections in a closed loop; returns the messages/s reached.
    private func measureSends(_ label: String, batch: Int, receipt: Bool, names: [String], data: String,
                              run: ScenarioRun, into result: inout BenchResult) async throws -> Double {
        let api = try requireURL(run.cluster.cluster.apiURL)
        // One body per connection would only add variety the API does not care about: every request names the next
        // devices of the list, the same for all connections (the API gives every message an id of its own).
        let list = (0..<batch).map { "\"\(names[$0 % names.count])\"" }.joined(separator: ",")
        let body = #"{"service":"sink","devices":[\#(list)],"data":"\#(data)","ttl":600,"receipt":\#(receipt)}"#
        print("api: \(label): \(connections) connections, \(batch) device(s) per request")
        let load = try await APILoad(port: api.port ?? 80, connections: connections, path: "/v1/messages",
                                     key: BenchCluster.apiKey, body: Array(body.utf8), expect: 201)
        try await Task.sleep(for: .seconds(warmup))
        load.startCounting()
        let before = run.cluster.snapshot()
        let started = Date()
        try await Task.sleep(for: .seconds(duration))
        let totals = load.snapshot()
        let seconds = Date().timeIntervalSince(started)
        let after = run.cluster.snapshot()
        await load.stop()
        let requests = Double(totals.answered) / seconds
        let messages = requests * Double(batch)
        result.figures["\(label)_requests_per_s"] = requests
        result.figures["\(label)_messages_per_s"] = messages
        result.figures["\(label)_failures"] = Double(totals.failures)
        for (k, v) in totals.latency.summary { result.figures["\(label)_to_201_\(k)"] = v }
        if let apiCPU = Self.cpu(of: "api", before, after), totals.answered > 0 {
            result.figures["\(label)_api_cpu_us_per_message"] = apiCPU / (messages * seconds) * 1e6
            result.figures["\(label)_api_cores"] = apiCPU / seconds
        }
        if totals.answered > 0 { Self.recordPartsCPU(label, before, after, messages: messages * seconds, in: &result) }
        if let failure = totals.firstFailure { result.notes.append("\(label): first failure: \(failure)") }
        print(String(format: "  %.0f requests/s, %.0f messages/s, p99 %.1f ms, failures %d", requests, messages,
                     totals.latency.milliseconds(at: 99), totals.failures))
        return messages
    }

    /// The same records as the API's, produced by a backend straight to Kafka at `rate` messages/s.
    private func measureDirect(rate: Double, names: [String], run: ScenarioRun, into result: inout BenchResult) async throws {
        print(String(format: "api: direct: DownstreamPublisher at %.0f messages/s", rate))
        let publisher = try DownstreamPublisher(bootstrap: run.cluster.cluster.broker.bootstrap, devices: names,
                                                payloadBytes: options.payloadBytes)
        DedicatedThread(name: "api-direct-publisher") { _ in publisher.run(rate: rate) { _ in true } }.start()
        try await Task.sleep(for: .seconds(warmup))
        let cpuBefore = Self.ownCPUSeconds()
        let publishedBefore = publisher.published
        let before = run.cluster.snapshot()
        let started = Date()
        try await Task.sleep(for: .seconds(duration))
        let published = publisher.published - publishedBefore
        let cpu = Self.ownCPUSeconds() - cpuBefore
        let seconds = Date().timeIntervalSince(started)
        let after = run.cluster.snapshot()
        publisher.stop()
        result.figures["direct_messages_per_s"] = Double(published) / seconds
        if published > 0 {
            result.figures["direct_publisher_cpu_us_per_message"] = cpu / Double(published) * 1e6
            // Downstream of Kafka the records are the same as the API's: these should match the batch phase's.
            Self.recordPartsCPU("direct", before, after, messages: Double(published), in: &result)
        }
        result.figures["direct_publish_errors"] = Double(publisher.errors)
    }

    /// Records `<label>_<part>_cpu_us_per_message` for the parts behind the API (router, Redis, broker) over a phase
    /// that moved `messages`.
    static func recordPartsCPU(_ label: String, _ before: [String: ProcessStats], _ after: [String: ProcessStats],
                               messages: Double, in result: inout BenchResult) {
        for part in ["router-1", "redis", "tansu"] {
            if let cpu = cpu(of: part, before, after) { result.figures["\(label)_\(part)_cpu_us_per_message"] = cpu / messages * 1e6 }
        }
    }

    /// CPU seconds `name` used between two snapshots.
    static func cpu(of name: String, _ before: [String: ProcessStats], _ after: [String: ProcessStats]) -> Double? {
        guard let end = after[name] else { return nil }
        return end.cpuSeconds - (before[name]?.cpuSeconds ?? 0)
    }

    /// This process's user plus system CPU seconds.
    static func ownCPUSeconds() -> Double {
        ProcessStats.read(pid: getpid())?.cpuSeconds ?? 0
    }
}

/// The API's address as a URL with a port, or an error saying the cluster has no API.
private func requireURL(_ text: String?) throws -> URL {
    guard let text, let url = URL(string: text), url.port != nil else { throw BenchError("the cluster runs no gateway api") }
    return url
}
