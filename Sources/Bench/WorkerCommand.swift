import ArgumentParser
import Foundation
import Lifecycle

/// `gateway-bench worker --plan <json>`: one device process, started and commanded by a scenario.
///
/// It connects its devices, prints a ``WorkerReport`` line five times a second, and obeys one-word commands on standard
/// input: `start` (traffic on), `measure` (warm-up over: reset counts, record latencies), `killed <ns>` (the
/// reconnect scenario's edge died then), `collect <round> [<sequence>]`, `disconnect` and `resume <ns> <missed>`
/// (fanout, see `DeviceCrowd+Topics.swift`), `stop` (print the final report). It exits when its input closes (the
/// coordinator ends it after reading the report), so it never outlives the coordinator.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", shouldDisplay: false)

    @Option(help: "The worker's plan, as JSON.")
    var plan: String

    func run() async throws {
        let plan = try JSONDecoder().decode(WorkerPlan.self, from: Data(plan.utf8))
        let crowd = DeviceCrowd(plan: plan)
        let commands = AsyncStream<String> { continuation in
            // readLine blocks: a thread of its own, which ends with standard input.
            DedicatedThread(name: "worker-commands") { _ in
                while let line = readLine() { continuation.yield(line) }
                continuation.finish()
            }.start()
        }
        let progress = Task {
            while !Task.isCancelled {
                Self.emit(crowd.report())
                // Often enough for the downstream publisher to pace on.
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        Task { try await crowd.connectAll(); Self.emit(crowd.report()) }
        for await line in commands {
            let words = line.split(separator: " ")
            switch words.first {
            case "start": crowd.start()
            case "measure": crowd.measure()
            case "killed":
                if let at = words.dropFirst().first.flatMap({ UInt64($0) }) { Task { await crowd.watchReconnects(killedAt: at) } }
            case "collect":
                // Fanout: `collect <round> [<sequence>]`.
                if let round = words.dropFirst().first.flatMap({ Int($0) }) {
                    Self.emit(crowd.collect(round: round, expecting: words.dropFirst(2).first.flatMap { Int64($0) }))
                }
            case "disconnect":
                Task { await crowd.disconnectAll() }
            case "resume":
                // Fanout storm: `resume <monotonic ns> <missed events>`.
                if let at = words.dropFirst().first.flatMap({ UInt64($0) }), let missed = words.dropFirst(2).first.flatMap({ Int($0) }) {
                    Task { await crowd.resumeAll(at: at, missed: missed) }
                }
            case "stop":
                progress.cancel()
                // The report can be large (a latency histogram); the coordinator ends this process once it has read
                // it, so exiting here could cut it short.
                Self.emit(crowd.finish())
            default: break
            }
        }
        Foundation.exit(0)
    }

    static func emit(_ report: WorkerReport) {
        guard let json = try? JSONEncoder().encode(report) else { return }
        FileHandle.standardOutput.write(Data((WorkerReport.marker + String(decoding: json, as: UTF8.self) + "\n").utf8))
    }
}
