import ArgumentParser
import ChaosCheck
import DevCluster
import Foundation
import Lifecycle

/// `gateway-bench chaos`: a local cluster of 3 edges, 2 routers, echo, push and presence under mixed load, with one
/// random fault every 10 to 20 s for the whole run; then it waits for stragglers and checks what every side saw
/// against the delivery guarantees (``ChaosVerdict``). Exits non-zero when an invariant is broken. `scripts/chaos.sh`
/// runs it; the seed it prints repeats the faults and their timing.
struct ChaosScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chaos", abstract: "Random faults under load; checks that nothing acknowledged is lost.")

    @Option(help: "Seconds of load and faults (the checks and waiting for stragglers come after).") var seconds = 600.0
    @Option(help: "Seed of the fault sequence (default: random, printed).") var seed: UInt64?
    @Option(help: "Devices sending to echo and presence, one message at a time.") var senders = 24
    @Option(help: "Devices subscribed to the chaos topic (a third also to push).") var listeners = 24
    @Option(help: "Devices that go offline and come back now and then.") var leavers = 8
    @Option(help: "Backend records per second to devices (Kafka contract).") var backendRate = 20.0
    @Option(help: "App-server pushes per second (HTTP).") var pushRate = 3.0
    @Option(help: "Topic messages per second.") var topicRate = 2.0
    @Flag(help: "One Redis server (append-only file fsynced on every write) instead of a Redis Cluster.") var standaloneRedis = false
    @Option(help: "The gateway executable (default: the one built next to gateway-bench).") var gateway: String?
    @Option(help: "Directory the JSON result is written to.") var results = "bench/results"
    @Option(help: "Directory for the cluster's logs and the run's ledger.") var logs = ".build/bench-logs"
    @Option(help: "Judge a saved ledger.json again instead of running (after a change to the checks).") var ledger: String?

    func run() async throws {
        let result = try await execute()
        if result.goals.contains(where: { !$0.met }) { throw ExitCode(1) }
    }

    func execute() async throws -> BenchResult {
        if let ledger { return try judgeAgain(ledger) }
        let seed = self.seed ?? UInt64.random(in: 1...999_999)
        let logDirectory = "\(logs)/chaos-\(BenchResult.stamp())"
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        say("chaos: seed \(seed), \(Int(seconds)) s of faults, logs in \(logDirectory)")
        let cluster = LocalCluster(options: try clusterOptions(logDirectory: logDirectory))
        try await offload { try cluster.start { say("  \($0)") } }
        defer { cluster.stop() }

        let recorder = ChaosRecorder(seed: seed)
        let admin = cluster.components.compactMap { c in cluster.adminPorts[c.name].map { (name: c.name, port: $0) } }
        let observer = try ChaosObserver(recorder: recorder, bootstrap: cluster.broker.bootstrap, seed: seed)
        let readiness = ChaosReadiness(recorder: recorder, adminPorts: admin)
        let devices = try await ChaosDevices(recorder: recorder, urls: (0..<cluster.edges.count).map { cluster.edgeURL($0) },
                                             senders: senders, listeners: listeners, leavers: leavers)
        try await devices.start()
        let pushPort = Int(cluster.pushURL?.split(separator: ":").last ?? "") ?? 0
        let load = try ChaosSenders(recorder: recorder, bootstrap: cluster.broker.bootstrap, pushPort: pushPort)
        load.start(devices: devices.all, subscriptions: { devices.subscriptions },
                   backendRate: backendRate, pushRate: pushRate, topicRate: topicRate)
        let faults = ChaosFaults(cluster: cluster, recorder: recorder, seed: seed)
        let loadEnds = recorder.now + seconds
        faults.start(until: loadEnds)
        say("chaos: load and faults for \(Int(seconds)) s")
        while recorder.now < loadEnds {
            try await Task.sleep(for: .seconds(min(10, max(0.1, loadEnds - recorder.now))))
            say("  \(Int(recorder.now)) s: " + recorder.read(Self.progress))
        }
        await faults.finish()
        await devices.stopLoad()
        await load.stop()
        recorder.record { $0.loadStoppedAt = recorder.now }
        say("chaos: load stopped; waiting for stragglers")
        try await settle(recorder)
        recorder.record { $0.endedAt = recorder.now }
        await readiness.stop()
        await observer.stop()
        await devices.stop()

        let ledger = recorder.snapshot
        let verdict = ChaosVerdict(ledger)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(ledger).write(to: URL(fileURLWithPath: "\(logDirectory)/ledger.json"))
        let result = self.result(ledger, verdict)
        ChaosSummary.print(ledger, verdict)
        let file = try result.write(to: results)
        print("chaos: result in \(file), ledger in \(logDirectory)/ledger.json")
        return result
    }

    private func judgeAgain(_ path: String) throws -> BenchResult {
        let ledger = try JSONDecoder().decode(ChaosLedger.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        let verdict = ChaosVerdict(ledger)
        ChaosSummary.print(ledger, verdict)
        var result = self.result(ledger, verdict)
        result.parameters["seconds"] = "\(Int(ledger.loadStoppedAt))"
        result.notes.append("judged again from \(path)")
        let file = try result.write(to: results)
        print("chaos: result in \(file)")
        return result
    }

    private func clusterOptions(logDirectory: String) throws -> LocalCluster.Options {
        guard let executable = gateway ?? LocalCluster.gatewayNextToThisProcess() else {
            throw BenchError("no gateway executable next to gateway-bench: build it or pass --gateway")
        }
        var o = LocalCluster.Options(gatewayExecutable: executable)
        o.edges = 3
        o.routers = 2
        o.presence = true
        o.push = true
        o.pushArguments = ["--rate-per-minute", "100000"]
        o.services = ["echo", ChaosSenders.service]
        o.redisCluster = !standaloneRedis
        o.persistentRedis = standaloneRedis
        o.logDirectory = logDirectory
        o.edgeArguments = ["--max-messages-per-second", "100000", "--message-burst", "100000"]
        return o
    }

    /// Waits until every acknowledged message is accounted for (reached its service; delivered or reported expired)
    /// and every component is ready, or until the longest TTL and the sweep after it have passed.
    private func settle(_ recorder: ChaosRecorder) async throws {
        let deadline = recorder.now + 60 + 20
        while recorder.now < deadline {
            let open = recorder.read(Self.unresolved)
            if open.isEmpty { return }
            try await Task.sleep(for: .seconds(1))
            if Int(recorder.now) % 10 == 0 { say("  waiting: \(open.joined(separator: ", "))") }
        }
    }

    /// What still keeps the run from ending.
    private static func unresolved(_ ledger: ChaosLedger) -> [String] {
        var open: [String] = []
        // What the checks would count as lost now may still be on its way.
        let counts = ChaosVerdict(ledger).counts
        if let upstream = counts["upstream_lost"], upstream > 0 { open.append("\(upstream) acked device messages not yet on their topic") }
        if let downstream = counts["downstream_lost"], downstream > 0 { open.append("\(downstream) messages neither delivered nor reported expired") }
        var latest: [String: Bool] = [:]
        for probe in ledger.probes { latest[probe.component] = probe.ready }
        let unready = latest.filter { !$0.value }.map(\.key).sorted()
        if !unready.isEmpty { open.append("not ready: \(unready.joined(separator: ", "))") }
        if let last = ledger.faults.compactMap(\.endedAt).max(), (ledger.probes.last?.at ?? 0) < last + 5 {
            open.append("readiness after the last fault")
        }
        return open
    }

    private static func progress(_ ledger: ChaosLedger) -> String {
        "acked \(ledger.acked.count) (on topic \(Set(ledger.reached.map { "\($0.service)|\($0.device)|\($0.id)" }).count)), "
            + "taken for devices \(ledger.sent.count), received \(ledger.receipts.count), expired \(ledger.expired.count), "
            + "topic \(ledger.published.count) published / \(ledger.topicReceipts.count) delivered, faults \(ledger.faults.count)"
    }

    private func result(_ ledger: ChaosLedger, _ verdict: ChaosVerdict) -> BenchResult {
        var result = BenchResult(scenario: .chaos, parameters: [
            "seed": "\(ledger.seed)", "seconds": "\(Int(seconds))", "redis": standaloneRedis ? "standalone" : "cluster",
            "edges": "3", "routers": "2", "senders": "\(senders)", "listeners": "\(listeners)", "leavers": "\(leavers)",
            "backend_rate": "\(backendRate)", "push_rate": "\(pushRate)", "topic_rate": "\(topicRate)",
        ])
        for (name, count) in verdict.counts { result.figures[name] = Double(count) }
        for (kind, count) in Dictionary(grouping: ledger.faults, by: \.kind).mapValues(\.count) { result.figures["faults_\(kind)"] = Double(count) }
        for recovery in verdict.recoveries {
            result.figures["recovery_\(recovery.kind)_p50_s"] = recovery.p50
            result.figures["recovery_\(recovery.kind)_max_s"] = recovery.max
        }
        for invariant in verdict.invariants {
            result.goal(invariant.name, target: "0 violations of \(invariant.checked) checked", measured: Double(invariant.violations), met: invariant.holds)
            result.notes += invariant.examples.map { "\(invariant.name): \($0)" }
        }
        result.notes += ledger.faults.map { "fault at \(Int($0.injectedAt)) s: \($0.kind) \($0.target)" }
        return result
    }
}

/// Prints a line at once, unbuffered, also into a CI log or a file: a run that hangs must still show how far it got.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
