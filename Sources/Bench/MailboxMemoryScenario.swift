import ArgumentParser
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Logging
import Shared

/// `gateway-bench mailbox-memory`: stores messages for offline devices straight into the mailboxes of a Redis of its
/// own (one server, or a Redis Cluster with `--redis-cluster`) and reports what each waiting message costs Redis, and
/// how fast the stores went (with the WAIT for replicas the mode asks for).
struct MailboxMemoryScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mailbox-memory",
                                                    abstract: "Redis memory per waiting mailbox message, and the store rate.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Offline devices the messages are for.") var devices = 10_000
    @Option(help: "Messages per device.") var perDevice = 10
    @Option(help: "Messages stored per call (as the router batches them).") var batch = 500

    func run() async throws { _ = try await execute() }

    func execute() async throws -> BenchResult {
        let logs = options.logDirectory(.mailboxMemory)
        print("mailbox-memory: starting \(options.redisCluster ? "a Redis Cluster" : "redis-server") (logs in \(logs))")
        let (ports, stop) = try await offload { () throws -> ([Int], @Sendable () -> Void) in
            if options.redisCluster {
                let cluster = try RedisClusterProcess.start(logDirectory: logs)
                return (cluster.ports, { cluster.stop() })
            }
            let server = try RedisProcess.start(logDirectory: logs)
            return ([server.port], { server.stop() })
        }
        defer { stop() }
        let mode: RedisSettings.Mode = options.redisCluster ? .cluster : .standalone
        var settings = RedisSettings(seeds: ports.map { RedisEndpoint(port: $0) }, mode: mode)
        if let replicas = options.redisMinReplicas { settings.durability.replicas = replicas }
        let redis = settings.connect(logger: Logger(label: "bench-mailbox"))
        defer { redis.close() }
        try await offload { try redis.checkReachable() }
        let mailbox = Mailbox(redis: redis, prefix: "bench")
        let before = try await RedisMemory.used(ports: ports, cluster: options.redisCluster)

        let payload = [UInt8](repeating: 0x61, count: options.payloadBytes)
        let expires = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        let items = (0..<perDevice).flatMap { m in
            (0..<devices).map { d in
                (device: "bench-device-\(d)", entry: MailboxEntry(seq: 0, id: "m-\(m)-\(d)", service: "echo",
                                                                  contentType: "application/octet-stream", expiresAtMs: expires, payload: payload))
            }
        }
        print("mailbox-memory: storing \(items.count) messages for \(devices) devices, \(batch) per call")
        let (seconds, stored) = try await offload { () throws -> (Double, Int) in
            let started = Date()
            var stored = 0
            for start in stride(from: 0, to: items.count, by: batch) {
                let results = try mailbox.storeBlocking(Array(items[start..<min(start + batch, items.count)]))
                stored += results.filter { if case .stored = $0 { true } else { false } }.count
            }
            return (Date().timeIntervalSince(started), stored)
        }
        let after = try await RedisMemory.used(ports: ports, cluster: options.redisCluster)

        var result = BenchResult(scenario: .mailboxMemory, parameters: [
            "devices": "\(devices)", "per_device": "\(perDevice)", "batch": "\(batch)", "payload_bytes": "\(options.payloadBytes)",
            "redis": options.redisCluster ? "cluster" : "standalone", "redis_min_replicas": "\(settings.durability.replicas)",
        ])
        result.figures["stored"] = Double(stored)
        result.figures["stores_per_s"] = Double(stored) / seconds
        result.figures["redis_bytes_per_waiting_message"] = Double(after - before) / Double(max(stored, 1))
        result.figures["redis_used_mib_after"] = Double(after) / 1_048_576
        result.notes.append("bytes per message = growth of used_memory (summed over the primaries) / messages stored; each replica holds as much again")
        try result.write(to: options.results)
        return result
    }
}
