import DevCluster
import Foundation
import NIOConcurrencyHelpers

/// The coordinator's side of the worker processes: starts them, commands them, and keeps each one's latest report.
final class WorkerFleet: @unchecked Sendable {
    /// Devices one worker holds at most: below the 20,000 open files a process may have, with room to spare.
    static let maxDevicesPerWorker = 15_000

    private var processes: [LocalProcess] = []
    private let latest = NIOLockedValueBox<[Int: WorkerReport]>([:])
    /// Each worker's latest answer to a `collect` command (progress reports do not overwrite it).
    private let collected = NIOLockedValueBox<[Int: WorkerReport]>([:])
    let plans: [WorkerPlan]

    /// Splits `devices` over as few workers as the per-process limit allows (at least `minimumWorkers`); worker `w`
    /// connects from 127.0.0.(2 + w).
    static func plans(devices: Int, minimumWorkers: Int = 1, _ make: (_ worker: Int, _ first: Int, _ count: Int) -> WorkerPlan) -> [WorkerPlan] {
        let workers = max(minimumWorkers, (devices + maxDevicesPerWorker - 1) / maxDevicesPerWorker, 1)
        var plans: [WorkerPlan] = []
        var first = 0
        for w in 0..<workers {
            let count = devices / workers + (w < devices % workers ? 1 : 0)
            plans.append(make(w, first, count))
            first += count
        }
        return plans
    }

    init(plans: [WorkerPlan], executable: String, logDirectory: String) throws {
        self.plans = plans
        for plan in plans {
            let json = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
            let latest = self.latest
            let collected = self.collected
            let process = try LocalProcess(
                name: "worker-\(plan.worker)", executable: executable, arguments: ["worker", "--plan", json],
                logFile: "\(logDirectory)/worker-\(plan.worker).log",
                echo: { line in
                    guard line.hasPrefix(WorkerReport.marker),
                          let report = try? JSONDecoder().decode(WorkerReport.self, from: Data(line.dropFirst(WorkerReport.marker.count).utf8))
                    else { return }
                    if report.round != nil {
                        collected.withLockedValue { $0[report.worker] = report }
                    } else {
                        latest.withLockedValue { $0[report.worker] = report }
                    }
                })
            processes.append(process)
        }
    }

    var pids: [Int32] { processes.map(\.pid) }

    /// Sends a command line to every worker.
    func command(_ line: String) { processes.forEach { $0.send(line: line) } }

    /// The sum of the workers' latest reports (latencies merged when present).
    func total() -> WorkerReport {
        let reports = latest.withLockedValue { Array($0.values) }
        var sum = WorkerReport(worker: -1, phase: reports.map(\.phase).min { $0.order < $1.order } ?? .connecting)
        for r in reports {
            sum.connected += r.connected
            sum.failed += r.failed
            sum.sent += r.sent
            sum.acked += r.acked
            sum.refused += r.refused
            sum.received += r.received
            sum.receivedSinceStart += r.receivedSinceStart
            sum.reconnected += r.reconnected
            sum.subscribed += r.subscribed
            sum.gaps += r.gaps
            sum.duplicates += r.duplicates
            sum.behind += r.behind
            sum.disconnected += r.disconnected
            sum.caughtUp += r.caughtUp
            sum.connectSeconds = max(sum.connectSeconds, r.connectSeconds)
            sum.firstError = sum.firstError ?? r.firstError
            if let l = r.latency {
                var merged = sum.latency ?? LatencyHistogram()
                merged.add(l)
                sum.latency = merged
            }
        }
        if reports.count < plans.count { sum.phase = .connecting }
        return sum
    }

    /// Waits until `done` holds for the total, printing `progress` of it every second.
    /// - Throws: when a worker exits early or `timeout` seconds pass.
    func wait(timeout: Double, progress: (WorkerReport) -> String, until done: (WorkerReport) -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        var lastPrint = Date.distantPast
        while true {
            let total = self.total()
            if done(total) { print(progress(total)); return }
            if let dead = processes.first(where: { !$0.isRunning }) {
                throw BenchError("\(dead.name) exited early:\n\(dead.recentOutput)")
            }
            if Date() > deadline { throw BenchError("timed out after \(Int(timeout)) s: \(progress(total))") }
            if Date().timeIntervalSince(lastPrint) >= 1 {
                print(progress(total))
                lastPrint = Date()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Sends `collect <round> <words>` to every worker and returns the total of their answers: the latencies they
    /// recorded since the last collect (which they then forget) and the counts at that moment.
    /// - Throws: when a worker does not answer within 60 s.
    func collect(_ round: Int, _ words: String = "") async throws -> WorkerReport {
        command("collect \(round) \(words)")
        let deadline = Date().addingTimeInterval(60)
        while true {
            let answers = collected.withLockedValue { Array($0.values.filter { $0.round == round }) }
            if answers.count == plans.count {
                var sum = WorkerReport(worker: -1, phase: .running)
                for r in answers {
                    sum.received += r.received
                    sum.gaps += r.gaps
                    sum.duplicates += r.duplicates
                    sum.behind += r.behind
                    sum.caughtUp += r.caughtUp
                    if let l = r.latency {
                        var merged = sum.latency ?? LatencyHistogram()
                        merged.add(l)
                        sum.latency = merged
                    }
                }
                return sum
            }
            if Date() > deadline { throw BenchError("workers did not answer collect \(round) within 60 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Tells every worker to stop and returns the total of their final reports.
    func stop() async throws -> WorkerReport {
        command("stop")
        let deadline = Date().addingTimeInterval(60)
        while latest.withLockedValue({ $0.values.filter { $0.phase == .done }.count }) < plans.count {
            if Date() > deadline { throw BenchError("workers did not report their results within 60 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return total()
    }

    /// Ends every worker process.
    func terminate() { processes.forEach { $0.stop(grace: 2) } }
}

extension WorkerReport.Phase {
    var order: Int {
        switch self {
        case .connecting: return 0
        case .connected: return 1
        case .running: return 2
        case .done: return 3
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
