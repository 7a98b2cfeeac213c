import ArgumentParser
import DevCluster
import Foundation

/// `gateway-bench connections`: opens idle devices on one or more edges and holds them; reports the connect+hello
/// rate and each edge's memory and CPU per connection.
struct ConnectionsScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connections", abstract: "Idle connections: rate, memory and CPU per connection.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Devices to connect.") var devices = 19_000
    @Option(help: "Edges to spread them over.") var edges = 1
    @Option(help: "Seconds to hold them before measuring memory.") var hold = 5.0
    @Option(help: "Devices connecting at once, per worker.") var concurrency = 256
    @Flag(help: "Edges serve TLS with a self-signed certificate made for the run; devices connect with wss:// and trust it.")
    var tls = false

    func run() async throws { _ = try await execute() }

    func execute() async throws -> BenchResult {
        let certificate = tls ? try BenchCertificate.make(.connections, options: options) : nil
        let run = try ScenarioRun(.connections, options: options, cluster: .init(edges: edges, tls: certificate))
        defer { run.finish() }
        try await Task.sleep(for: .seconds(2))
        let idle = run.cluster.snapshot()
        let redisBefore = try await run.cluster.redisUsedMemory()
        let urls = run.cluster.edgeURLs
        let plans = WorkerFleet.plans(devices: devices) { w, first, count in
            var plan = options.plan(.connections, worker: w, first: first, count: count, urls: urls,
                                    connectConcurrency: concurrency)
            plan.trustRootsFile = certificate?.certificate
            return plan
        }
        let connected = try await run.connect(plans)
        print("connections: holding \(Int(hold)) s")
        try await Task.sleep(for: .seconds(hold))
        let held = run.cluster.snapshot()
        let redisHeld = try await run.cluster.redisUsedMemory()

        var result = run.result(["devices": "\(devices)", "edges": "\(edges)", "hold_s": "\(hold)", "tls": "\(tls)"])
        result.components(from: idle, to: held, seconds: connected.connectSeconds + hold)
        let rate = Double(connected.connected) / max(connected.connectSeconds, 0.001)
        result.figures["connected"] = Double(connected.connected)
        result.figures["failed"] = Double(connected.failed)
        result.figures["connect_seconds"] = connected.connectSeconds
        result.figures["connect_hello_per_s"] = rate
        result.figures["connect_hello_per_s_per_edge"] = rate / Double(edges)
        // Each device's route and epoch counter (on the primaries; every replica holds as much again).
        result.figures["redis_bytes_per_idle_device"] = Double(redisHeld - redisBefore) / Double(max(connected.connected, 1))
        var perConnection: [Double] = []
        var cpuPerConnect: [Double] = []
        for (i, _) in urls.enumerated() {
            let name = "edge-\(i + 1)"
            guard let before = idle[name], let after = held[name] else { continue }
            // Devices n go to edge n % edges.
            let count = Double(connected.connected) / Double(edges)
            perConnection.append(Double(after.rssKiB - before.rssKiB) / count)
            cpuPerConnect.append((after.cpuSeconds - before.cpuSeconds) / count * 1e6)
            result.figures["\(name)_rss_idle_mib"] = Double(before.rssKiB) / 1024
            result.figures["\(name)_rss_held_mib"] = Double(after.rssKiB) / 1024
        }
        let kib = perConnection.max() ?? 0
        result.figures["edge_rss_kib_per_connection"] = kib
        result.figures["edge_cpu_us_per_connect"] = cpuPerConnect.max() ?? 0
        if edges == 1 {
            // A TLS connection holds BoringSSL state on top of the WebSocket: its figure is its own goal line, so it
            // never stands in for the plain one.
            let name = tls ? "edge RSS growth per idle connection (TLS at the edge)"
                : "edge RSS growth per idle connection (plain WebSocket)"
            result.goal(name, target: "<= 5 KiB", measured: kib, met: kib <= 5)
        }
        result.goal(tls ? "connect+hello per edge (TLS at the edge)" : "connect+hello per edge", target: ">= 5000/s",
                    measured: rate / Double(edges), met: rate / Double(edges) >= 5000)
        if devices >= 100_000 {
            result.goal("idle devices on this box", target: ">= 100000", measured: Double(connected.connected), met: connected.connected >= 100_000)
        }
        result.notes.append("RSS per connection = (edge RSS after holding - edge RSS before connecting) / connections on that edge, largest over edges")
        try result.write(to: options.results)
        return result
    }
}
