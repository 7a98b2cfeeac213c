import ArgumentParser
import DevCluster
import Foundation

/// Options every scenario takes.
struct BenchOptions: ParsableArguments {
    /// A service with no backend: what devices send there only goes to Kafka.
    static let sinkService = "sink"

    @Option(help: "The gateway executable (default: the one built next to gateway-bench).")
    var gateway: String?

    @Option(help: "Protocol encoding the devices speak: binary or json.")
    var encoding = "binary"

    @Option(help: "Directory the JSON result is written to.")
    var results = "bench/results"

    @Option(help: "Directory for the logs of the cluster and the workers.")
    var logs = ".build/bench-logs"

    @Option(help: "Payload size in bytes.")
    var payloadBytes = 100

    @Flag(help: "Run the cluster on a Redis Cluster (three primaries, a replica each) instead of one Redis.")
    var redisCluster = false

    @Option(help: "--redis-min-replicas for every component (default: the mode's, 1 on a Redis Cluster, 0 standalone).")
    var redisMinReplicas: Int?

    func validate() throws {
        guard encoding == "binary" || encoding == "json" else { throw ValidationError("--encoding: binary or json") }
    }

    func gatewayExecutable() throws -> String {
        if let gateway { return gateway }
        guard let found = LocalCluster.gatewayNextToThisProcess() else {
            throw BenchError("no gateway executable next to gateway-bench: build it (swift build -c release) or pass --gateway")
        }
        return found
    }

    /// This program, to start workers with.
    var benchExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    func logDirectory(_ scenario: Scenario) -> String {
        let dir = "\(logs)/\(scenario.rawValue)-\(BenchResult.stamp())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func plan(_ scenario: Scenario, worker: Int, first: Int, count: Int, urls: [String], service: String = sinkService,
              rate: Double = 0, window: Int = 1, connectConcurrency: Int = 256) -> WorkerPlan {
        WorkerPlan(scenario: scenario, worker: worker, urls: urls, devicePrefix: "bench-\(scenario.rawValue)-",
                   firstDevice: first, devices: count, localAddress: "127.0.0.\(2 + worker)", encoding: encoding,
                   service: service, payloadBytes: payloadBytes, rate: rate, window: window,
                   connectConcurrency: connectConcurrency)
    }
}
