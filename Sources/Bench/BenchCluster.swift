import DevCluster
import Foundation

/// A local cluster started for one benchmark run: the release `gateway` with limits opened up for a load that comes
/// from a few loopback addresses, plus what the run needs to read each component's memory and CPU.
final class BenchCluster: @unchecked Sendable {
    let cluster: LocalCluster

    struct Settings {
        var edges = 1
        var routers = 1
        var echo = false
        /// Tansu answers a fetch only when the consumer's wait runs out, so this bounds each Kafka hop's latency.
        var fetchWaitMs = 5
        var lingerMs = 2
        /// The certificate and key the edges serve TLS with (`wss://`); nil runs them plain.
        var tls: LocalCluster.TLSFiles?
        /// Also run `gateway api`, with the one key ``BenchCluster/apiKey`` (scope send).
        var api = false
    }

    /// The send key of `gateway api` in a cluster started with ``Settings/api``.
    static let apiKey = "bench-api-send-key-0123456789"

    init(_ settings: Settings, options: BenchOptions, logDirectory: String) throws {
        var o = LocalCluster.Options(gatewayExecutable: try options.gatewayExecutable())
        o.edges = settings.edges
        o.routers = settings.routers
        o.echo = settings.echo
        o.services = ["echo", BenchOptions.sinkService]
        o.logDirectory = logDirectory
        o.edgeTLS = settings.tls
        o.logLevel = "warning"
        o.kafkaConsumerProperties = ["fetch.wait.max.ms": "\(settings.fetchWaitMs)"]
        o.kafkaProducerProperties = ["linger.ms": "\(settings.lingerMs)"]
        // The load comes from a few addresses at rates no single device would reach: only the edge-wide limits stay.
        o.connectionsPerIP = 1_000_000
        o.connectsPerIPPerSecond = 1_000_000
        o.edgeArguments = ["--max-messages-per-second", "1000000", "--message-burst", "1000000"]
        o.redisCluster = options.redisCluster
        if settings.api { o.apiKeys = ["send:\(Self.apiKey)"] }
        if let replicas = options.redisMinReplicas {
            o.edgeArguments += ["--redis-min-replicas", "\(replicas)"]
            o.routerArguments += ["--redis-min-replicas", "\(replicas)"]
        }
        cluster = LocalCluster(options: o)
        try cluster.start { print("  \($0)") }
    }

    var edgeURLs: [String] { (0..<cluster.edges.count).map { cluster.edgeURL($0) } }

    /// Every process of the cluster, by name, for memory and CPU figures.
    var components: [(name: String, pid: Int32)] {
        var all: [(String, Int32)] = [("tansu", cluster.broker.process.pid)]
        if let redisCluster = cluster.redisCluster {
            for (i, node) in redisCluster.nodes.enumerated() { all.append(("redis-\(i + 1)", node.process.pid)) }
        } else {
            all.append(("redis", cluster.redis.process.pid))
        }
        for (i, router) in cluster.routers.enumerated() { all.append(("router-\(i + 1)", router.pid)) }
        for edge in cluster.edges { all.append((edge.id, edge.process.pid)) }
        if let echo = cluster.echoService { all.append(("echo", echo.pid)) }
        if let api = cluster.apiService { all.append(("api", api.pid)) }
        return all
    }

    /// Memory and CPU of every component now.
    func snapshot() -> [String: ProcessStats] {
        var stats: [String: ProcessStats] = [:]
        for (name, pid) in components { stats[name] = ProcessStats.read(pid: pid) }
        return stats
    }

    /// Bytes Redis holds for data now (`used_memory`), summed over the primaries of a cluster (each replica holds as
    /// much again).
    func redisUsedMemory() async throws -> Int64 {
        try await RedisMemory.used(ports: cluster.redisPorts, cluster: cluster.redisCluster != nil)
    }

    func stop() { cluster.stop() }
}
