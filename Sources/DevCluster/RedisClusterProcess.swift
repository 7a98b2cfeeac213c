import Foundation

/// A Redis Cluster on loopback for development and tests: `primaries` primaries with `replicasPerPrimary` replicas
/// each, every node its own `redis-server` in cluster mode (2 s node timeout, AOF on), joined by
/// `redis-cli --cluster create`.
///
/// Guarantees: ``start(primaries:replicasPerPrimary:logDirectory:)`` returns only once every node reports
/// `cluster_state:ok` and lists every node in its `CLUSTER SLOTS`, so a client may read the slot map at once.
public final class RedisClusterProcess: @unchecked Sendable {
    /// Every node, in the order given to `redis-cli --cluster create` (it makes the first `primaries` the primaries);
    /// a restarted node keeps its place.
    public var nodes: [RedisProcess] { lock.withLock { current } }
    public let primaries: Int
    private let logDirectory: String?
    private let lock = NSLock()
    private var current: [RedisProcess]

    /// The nodes' ports, for `--redis` as a list of seeds.
    public var ports: [Int] { nodes.map(\.port) }

    public static func start(primaries: Int = 3, replicasPerPrimary: Int = 1, logDirectory: String? = nil) throws -> RedisClusterProcess {
        guard let cli = LocalProcess.find("redis-cli") else {
            throw ClusterError.executableNotFound("redis-cli", hint: "run scripts/setup.sh")
        }
        var nodes: [RedisProcess] = []
        do {
            for index in 0..<(primaries * (1 + replicasPerPrimary)) {
                let nodeLogs = logDirectory.map { "\($0)/redis-\(index + 1)" }
                if let nodeLogs { try FileManager.default.createDirectory(atPath: nodeLogs, withIntermediateDirectories: true) }
                nodes.append(try RedisProcess.start(persistent: true, logDirectory: nodeLogs, clusterEnabled: true))
            }
            let create = try LocalProcess.runToEnd(cli, ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" }
                                     + ["--cluster-replicas", "\(replicasPerPrimary)", "--cluster-yes"])
            guard create.status == 0 else {
                throw ClusterError.exitedEarly(name: "redis-cli --cluster create", status: create.status, output: create.output)
            }
            try waitUntilFormed(cli, nodes: nodes)
        } catch {
            nodes.forEach { $0.stop() }
            throw error
        }
        return RedisClusterProcess(nodes: nodes, primaries: primaries, logDirectory: logDirectory)
    }

    private init(nodes: [RedisProcess], primaries: Int, logDirectory: String?) {
        current = nodes
        self.primaries = primaries
        self.logDirectory = logDirectory
    }

    /// Starts the node on `port` again, after it crashed or was stopped, from its own directory (its `nodes.conf` and
    /// append-only file), as an orchestrator restarting a failed pod would: it rejoins the cluster, as a replica of
    /// whichever node took its slots meanwhile.
    public func restart(port: Int) throws {
        guard let index = nodes.firstIndex(where: { $0.port == port }) else { return }
        let old = nodes[index]
        old.process.crash()
        let nodeLogs = logDirectory.map { "\($0)/redis-\(index + 1)-restarted" }
        if let nodeLogs { try FileManager.default.createDirectory(atPath: nodeLogs, withIntermediateDirectories: true) }
        let node = try RedisProcess.start(port: port, persistent: true, logDirectory: nodeLogs, directory: old.directory,
                                          clusterEnabled: true, clusterPort: old.clusterPort)
        lock.withLock { current[index] = node }
    }

    /// Stops every node and removes their directories.
    public func stop() {
        for node in nodes {
            node.process.crash()
            node.stop()
        }
    }

    /// Polls until each node says `cluster_state:ok` and lists every node (primaries and replicas) in its
    /// `CLUSTER SLOTS`, the reply clients read the slot map from.
    private static func waitUntilFormed(_ cli: String, nodes: [RedisProcess], timeout: Double = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        let ports = Set(nodes.map { String($0.port) })
        var last = ""
        while Date() < deadline {
            let states = try nodes.map { try LocalProcess.runToEnd(cli, ["-p", "\($0.port)", "cluster", "info"]).output.contains("cluster_state:ok") }
            // Raw output is one value per line; a node's port appears on a line of its own.
            let listed = try nodes.map { node in
                Set(try LocalProcess.runToEnd(cli, ["-p", "\(node.port)", "cluster", "slots"]).output.split(separator: "\n").map(String.init))
                    .intersection(ports).count
            }
            if states.allSatisfy({ $0 }) && listed.allSatisfy({ $0 == nodes.count }) { return }
            last = "cluster_state ok: \(states), nodes each one lists in CLUSTER SLOTS: \(listed) of \(nodes.count)"
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw ClusterError.notReady(name: "redis cluster", waitedSeconds: timeout, output: last)
    }
}
