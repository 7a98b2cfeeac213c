import ChaosCheck
import DevCluster
import Foundation
import Lifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The faults of a chaos run, one at a time: after a quiet 10 to 20 s, one fault drawn at random, held for its
/// duration, then ended the way an orchestrator or an operator would end it (a killed process restarted after a random
/// delay, a stopped one continued). Every draw comes from the seed, so a run's faults and their timing repeat with it.
///
/// Delay and loss on one component's traffic are not injected: the kernel of the machines this runs on has no queueing
/// disciplines (`tc qdisc add dev lo root handle 1: prio` answers "Specified qdisc kind is unknown", and netem with it),
/// so there is no way here to slow or drop one component's loopback traffic.
final class ChaosFaults: @unchecked Sendable {
    enum Kind: String, CaseIterable {
        case killEdge = "kill-edge"
        case killRouter = "kill-router"
        case killEcho = "kill-echo"
        case killPush = "kill-push"
        case killPresence = "kill-presence"
        case pauseBroker = "pause-broker"
        case killRedisPrimary = "kill-redis-primary"
        case pauseEdge = "pause-edge"
    }

    private let cluster: LocalCluster
    private let recorder: ChaosRecorder
    private var random: SeededRandom
    private var thread: DedicatedThread?

    init(cluster: LocalCluster, recorder: ChaosRecorder, seed: UInt64) {
        self.cluster = cluster
        self.recorder = recorder
        random = SeededRandom(seed: seed)
    }

    /// Injects faults until `seconds` after the run's start; a fault under way then is still ended.
    func start(until seconds: Double) {
        let thread = DedicatedThread(name: "chaos faults") { [self] thread in
            while !thread.isStopRequested {
                if thread.pause(for: between(10, 20)) { return }
                guard recorder.now < seconds else { return }
                inject(Kind.allCases.randomElement(using: &random)!, thread: thread)
            }
        }
        self.thread = thread
        thread.start()
    }

    /// Waits until the fault under way, if any, has ended; no new one starts.
    func finish() async {
        guard let thread else { return }
        thread.requestStop()
        _ = await thread.finished(within: .seconds(120))
    }

    private func between(_ low: Double, _ high: Double) -> Duration {
        .milliseconds(Int64(Double.random(in: low...high, using: &random) * 1000))
    }

    private func inject(_ kind: Kind, thread: DedicatedThread) {
        switch kind {
        case .killEdge: kill(cluster.edges.map(\.id).randomElement(using: &random)!, kind: kind)
        case .killRouter: kill("router-\(Int.random(in: 1...cluster.routers.count, using: &random))", kind: kind)
        case .killEcho: kill("echo", kind: kind)
        case .killPush: kill("push", kind: kind)
        case .killPresence: kill("presence", kind: kind)
        case .pauseBroker: pause(cluster.broker.process, target: "tansu", kind: kind, for: between(5, 30))
        case .pauseEdge:
            let edge = cluster.edges.randomElement(using: &random)!
            pause(edge.process, target: edge.id, kind: kind, for: between(5, 20))
        case .killRedisPrimary: killRedisPrimary(kind: kind)
        }
        _ = thread
    }

    private func begin(_ kind: Kind, _ target: String) -> Int {
        let at = recorder.now
        say("chaos \(String(format: "%6.1f", at)) s: \(kind.rawValue) \(target)")
        var index = 0
        recorder.record {
            index = $0.faults.count
            $0.faults.append(.init(kind: kind.rawValue, target: target, injectedAt: at))
        }
        return index
    }

    private func end(_ index: Int) {
        let at = recorder.now
        recorder.record { $0.faults[index].endedAt = at }
    }

    /// kill -9, then a restart with the same flags and ports 1 to 5 s later.
    private func kill(_ name: String, kind: Kind) {
        guard let process = cluster.components.first(where: { $0.name == name })?.process else { return }
        let index = begin(kind, name)
        process.crash()
        Thread.sleep(forTimeInterval: Double.random(in: 1...5, using: &random))
        do {
            try cluster.restart(name)
        } catch {
            say("chaos: cannot restart \(name): \(error)")
        }
        end(index)
    }

    /// SIGSTOP for `duration`, then SIGCONT.
    private func pause(_ process: LocalProcess, target: String, kind: Kind, for duration: Duration) {
        let index = begin(kind, "\(target) for \(duration.components.seconds) s")
        process.signal(SIGSTOP)
        Thread.sleep(forTimeInterval: duration.inSeconds)
        process.signal(SIGCONT)
        end(index)
    }

    /// kill -9 of a node that is a primary now, restarted 1 to 10 s later from its own files (it rejoins, as a replica
    /// if its replica took over meanwhile). On a standalone Redis: the server, restarted from its append-only file.
    private func killRedisPrimary(kind: Kind) {
        guard let redisCluster = cluster.redisCluster else {
            let index = begin(kind, "redis 127.0.0.1:\(cluster.redis.port)")
            cluster.redis.process.crash()
            Thread.sleep(forTimeInterval: Double.random(in: 1...10, using: &random))
            do { try cluster.restartRedis() } catch { say("chaos: cannot restart redis: \(error)") }
            end(index)
            return
        }
        let primaries = Self.primaries(of: redisCluster)
        guard let port = primaries.randomElement(using: &random),
              let node = redisCluster.nodes.first(where: { $0.port == port }) else {
            say("chaos: no Redis primary found to kill")
            return
        }
        let index = begin(kind, "redis 127.0.0.1:\(port)")
        node.process.crash()
        Thread.sleep(forTimeInterval: Double.random(in: 1...10, using: &random))
        do { try redisCluster.restart(port: port) } catch { say("chaos: cannot restart redis \(port): \(error)") }
        end(index)
    }

    /// The ports of the nodes the cluster counts as healthy primaries now, sorted (so the seeded draw repeats).
    private static func primaries(of redisCluster: RedisClusterProcess) -> [Int] {
        guard let cli = LocalProcess.find("redis-cli") else { return [] }
        for node in redisCluster.nodes {
            guard let answer = try? LocalProcess.runToEnd(cli, ["-p", "\(node.port)", "cluster", "nodes"]), answer.status == 0 else { continue }
            let ports = answer.output.split(separator: "\n").compactMap { line -> Int? in
                let fields = line.split(separator: " ")
                guard fields.count > 2, fields[2].contains("master"), !fields[2].contains("fail"),
                      let address = fields[1].split(separator: "@").first, let port = address.split(separator: ":").last else { return nil }
                return Int(port)
            }
            if !ports.isEmpty { return ports.sorted() }
        }
        return []
    }
}

/// Asks every component's `/readyz` once a second and records each answer (no answer counts as not ready).
final class ChaosReadiness: Sendable {
    private let task: Task<Void, Never>

    init(recorder: ChaosRecorder, adminPorts: [(name: String, port: Int)]) {
        task = Task {
            while !Task.isCancelled {
                for (name, port) in adminPorts {
                    let ready = await LoopbackHTTP.request(.GET, port: port, path: "/readyz", timeout: .seconds(1))?.status == 200
                    let at = recorder.now
                    recorder.record { $0.probes.append(.init(component: name, ready: ready, at: at)) }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    func stop() async {
        task.cancel()
        await task.value
    }
}
