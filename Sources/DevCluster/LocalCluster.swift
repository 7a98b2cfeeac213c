import Foundation

/// A whole gateway on this machine: Redis, a Tansu broker, routers, edges, the echo service and (optionally) the push
/// and presence services, each its own process.
///
/// `gateway dev` runs one for people; the integration tests run one per suite. Components are the real `gateway`
/// executable with real flags, so what is tested is what ships. Every process is stopped by ``stop()``, at exit,
/// and (for gateway components) when this process dies, since they exit when their standard input closes.
public final class LocalCluster: @unchecked Sendable {
    public struct Options: Sendable {
        public var gatewayExecutable: String
        public var edges = 2
        public var routers = 1
        /// The first edge's port; the others follow. Nil picks free ports.
        public var firstEdgePort: Int?
        public var redisPort: Int?
        public var brokerPort: Int?
        public var prefix = "cg"
        public var services = ["echo"]
        public var echo = true
        /// Also run `gateway presence` (after the edges); the edges then offer service `presence` even if
        /// ``services`` does not list it.
        public var presence = false
        /// Also run `gateway push` (its HTTP API at ``LocalCluster/pushURL``); the edges then offer service `push`.
        public var push = false
        /// The push HTTP API's port; nil picks a free one.
        public var pushPort: Int?
        /// More flags for `gateway push` (for example `--rate-per-minute 5` or `--api-key k`).
        public var pushArguments: [String] = []
        /// Also run `gateway api` (its HTTP API at ``LocalCluster/apiURL``) with these keys (`SCOPES:SECRET` each, passed
        /// through CG_API_KEYS so that they never appear in a process list); none: no API.
        public var apiKeys: [String] = []
        /// The API's port; nil picks a free one.
        public var apiPort: Int?
        /// More flags for `gateway api` (for example `--max-body-bytes 4096`).
        public var apiArguments: [String] = []
        public var logDirectory: String?
        public var logLevel = "info"
        /// Redis with an append-only file fsynced on every write, for tests that restart it.
        public var persistentRedis = false
        /// A Redis Cluster (three primaries, a replica each) instead of one server; components then run with
        /// `--redis-mode cluster` and every seed.
        public var redisCluster = false
        /// Extra `--kafka-consumer-property` values for every component: Tansu answers a fetch only when its wait
        /// runs out, so a short wait is what keeps latency low.
        public var kafkaConsumerProperties: [String: String] = ["fetch.wait.max.ms": "5"]
        /// Extra `--kafka-producer-property` values for every component (for example a shorter `linger.ms`).
        public var kafkaProducerProperties: [String: String] = [:]
        /// Called with each line a component prints, prefixed with its name.
        public var echoOutput: (@Sendable (String) -> Void)?
        /// PEM certificate chain and key for every edge (`wss://`); nil runs the edges with `--plaintext` (`ws://`).
        public var edgeTLS: TLSFiles?
        /// Every local device connects from 127.0.0.1, so the per-IP limits meant for the internet (1,000
        /// connections, 200 connects/s with a burst of 1,000) would refuse a load or fault test; local edges allow
        /// this many instead.
        public var connectionsPerIP = 100_000
        public var connectsPerIPPerSecond = 100_000
        /// More flags for every edge, after the ones above (a repeated flag's last value wins).
        public var edgeArguments: [String] = []
        /// Extra arguments for every router.
        public var routerArguments: [String] = []

        public init(gatewayExecutable: String) {
            self.gatewayExecutable = gatewayExecutable
        }
    }

    /// The PEM files an edge serves TLS with.
    public struct TLSFiles: Sendable {
        public var certificate: String
        public var key: String

        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    public let options: Options
    /// The one Redis server (nil with ``Options/redisCluster``).
    public private(set) var redis: RedisProcess!
    /// The Redis Cluster, with ``Options/redisCluster``.
    public private(set) var redisCluster: RedisClusterProcess?
    public private(set) var broker: TansuProcess!
    public private(set) var routers: [LocalProcess] = []
    public private(set) var edges: [(id: String, port: Int, process: LocalProcess)] = []
    public private(set) var echoService: LocalProcess?
    public private(set) var presenceService: LocalProcess?
    public private(set) var pushService: LocalProcess?
    /// The push HTTP API, `http://127.0.0.1:PORT`, when ``Options/push`` is on.
    public private(set) var pushURL: String?
    public private(set) var apiService: LocalProcess?
    /// The HTTP API, `http://127.0.0.1:PORT`, when ``Options/apiKeys`` has keys.
    public private(set) var apiURL: String?
    /// The `gateway` arguments each component was last started with (before the common ones), by name.
    private var componentArguments: [String: [String]] = [:]
    /// Each gateway component's admin port (/healthz, /readyz, /metrics), by name: `router-1`, `edge-1`, `echo`.
    public private(set) var adminPorts: [String: Int] = [:]

    /// The admin endpoint of a component, `http://127.0.0.1:PORT`.
    public func adminURL(_ name: String) -> String? { adminPorts[name].map { "http://127.0.0.1:\($0)" } }

    public init(options: Options) {
        self.options = options
    }

    /// The WebSocket URL of edge `index` (0-based): `wss://` with ``Options/edgeTLS``, else `ws://`.
    public func edgeURL(_ index: Int) -> String { "\(scheme)://127.0.0.1:\(edges[index].port)/v1/channel" }

    private var scheme: String { options.edgeTLS == nil ? "ws" : "wss" }

    /// Starts everything and returns once every component said it is ready. `report` gets one line per part.
    public func start(report: (String) -> Void = { _ in }) throws {
        if let dir = options.logDirectory { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        // Ports given in the options are bound only later, one by one: no admin port picked meanwhile may take them.
        if let first = options.firstEdgePort { FreePort.reserve(first..<first + options.edges) }
        FreePort.reserve([options.redisPort, options.brokerPort, options.pushPort, options.apiPort].compactMap { $0 })
        if options.redisCluster {
            redisCluster = try RedisClusterProcess.start(logDirectory: options.logDirectory)
            report("redis cluster \(redisSeeds) (3 primaries, 1 replica each)")
        } else {
            redis = try RedisProcess.start(port: options.redisPort, persistent: options.persistentRedis,
                                           logDirectory: options.logDirectory)
            report("redis 127.0.0.1:\(redis.port)")
        }
        broker = try TansuProcess.start(port: options.brokerPort, logDirectory: options.logDirectory)
        report("broker \(broker.bootstrap)")
        for i in 1...max(options.routers, 1) {
            let router = try startComponent(name: "router-\(i)", ["router"] + options.routerArguments)
            routers.append(router)
        }
        // Below the kernel's ephemeral range (32768 and up), where outgoing connections could take them meanwhile.
        let firstPort = try options.firstEdgePort ?? FreePort.consecutive(options.edges, from: 10_000 + Int.random(in: 0..<20_000))
        for i in 0..<options.edges {
            _ = try startEdge(id: "edge-\(i + 1)", port: firstPort + i)
        }
        if options.echo {
            echoService = try startComponent(name: "echo", ["echo"])
        }
        if options.presence {
            presenceService = try startComponent(name: "presence", ["presence"])
        }
        if options.push {
            let port = try options.pushPort ?? FreePort.consecutive(1, from: 10_000 + Int.random(in: 0..<20_000))
            pushService = try startComponent(name: "push", ["push", "--host", "127.0.0.1", "--port", "\(port)"] + options.pushArguments)
            pushURL = "http://127.0.0.1:\(port)"
        }
        if !options.apiKeys.isEmpty {
            let port = try options.apiPort ?? FreePort.consecutive(1, from: 10_000 + Int.random(in: 0..<20_000))
            apiService = try startComponent(name: "api", ["api", "--host", "127.0.0.1", "--port", "\(port)",
                                                          "--services", edgeServices.joined(separator: ",")] + options.apiArguments,
                                            environment: ["CG_API_KEYS": options.apiKeys.joined(separator: ",")])
            apiURL = "http://127.0.0.1:\(port)"
        }
        for router in routers { try router.waitForLine(containing: "router ready", timeout: 60) }
        for i in routers.indices { report("router ready (router-\(i + 1)), admin \(adminURL("router-\(i + 1)") ?? "-")") }
        for edge in edges {
            try edge.process.waitForLine(containing: "edge ready", timeout: 60)
            report("\(edge.id) \(scheme)://127.0.0.1:\(edge.port)/v1/channel, admin \(adminURL(edge.id) ?? "-")")
        }
        if let echoService {
            try echoService.waitForLine(containing: "echo ready", timeout: 60)
            report("echo service ready (consumes \(options.prefix).up.echo), admin \(adminURL("echo") ?? "-")")
        }
        if let presenceService {
            try presenceService.waitForLine(containing: "presence ready", timeout: 60)
            report("presence service ready (consumes \(options.prefix).up.presence and \(options.prefix).connections), admin \(adminURL("presence") ?? "-")")
        }
        if let pushService {
            try pushService.waitForLine(containing: "push ready", timeout: 60)
            report("push service ready, HTTP API \(pushURL ?? "-"), admin \(adminURL("push") ?? "-")")
        }
        if let apiService {
            try apiService.waitForLine(containing: "api ready", timeout: 60)
            report("API ready, \(apiURL ?? "-") (docs/api.md), admin \(adminURL("api") ?? "-")")
        }
    }

    /// Starts one more edge process (or restarts one that was stopped) and waits until it is ready.
    /// - Parameters:
    ///   - extraArguments: `gateway edge` options for this edge only, after ``Options/edgeArguments``.
    ///   - listed: whether ``edges`` lists it (a test's temporary edge is not: the cluster does not stop it).
    @discardableResult
    public func startEdge(id: String, port: Int, wait: Bool = false, extraArguments: [String] = [],
                          listed: Bool = true) throws -> LocalProcess {
        var arguments = ["edge", "--id", id, "--port", "\(port)",
                         "--max-connections-per-ip", "\(options.connectionsPerIP)",
                         "--max-connects-per-ip-per-second", "\(options.connectsPerIPPerSecond)",
                         "--connect-burst-per-ip", "\(options.connectsPerIPPerSecond)"]
        if let tls = options.edgeTLS {
            arguments += ["--tls-cert", tls.certificate, "--tls-key", tls.key]
        } else {
            arguments += ["--plaintext"]
        }
        let process = try startComponent(name: id, arguments + options.edgeArguments + extraArguments)
        if !listed {
            // Not the cluster's to stop or list.
        } else if let index = edges.firstIndex(where: { $0.id == id }) {
            edges[index] = (id, port, process)
        } else {
            edges.append((id, port, process))
        }
        if wait { try process.waitForLine(containing: "edge ready", timeout: 60) }
        return process
    }

    private func startComponent(name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> LocalProcess {
        componentArguments[name] = arguments
        // Below the kernel's ephemeral range, like the edges' ports.
        let adminPort = try adminPorts[name] ?? FreePort.consecutive(1, from: 10_000 + Int.random(in: 0..<20_000))
        adminPorts[name] = adminPort
        var args = arguments + ["--admin-port", "\(adminPort)"] + [
            "--kafka", broker.bootstrap, "--redis", redisSeeds, "--prefix", options.prefix,
            "--log-level", options.logLevel, "--exit-with-stdin",
        ]
        if redisCluster != nil { args += ["--redis-mode", "cluster"] }
        if arguments.first == "edge" { args += ["--services", edgeServices.joined(separator: ",")] }
        for (key, value) in options.kafkaConsumerProperties.sorted(by: { $0.key < $1.key }) {
            args += ["--kafka-consumer-property", "\(key)=\(value)"]
        }
        for (key, value) in options.kafkaProducerProperties.sorted(by: { $0.key < $1.key }) {
            args += ["--kafka-producer-property", "\(key)=\(value)"]
        }
        let echo = options.echoOutput
        return try LocalProcess(
            name: name, executable: options.gatewayExecutable, arguments: args, environment: environment,
            logFile: options.logDirectory.map { "\($0)/\(name).log" },
            echo: echo.map { out in { @Sendable line in out("[\(name)] \(line)") } })
    }

    /// Every gateway component by name (`router-1`, `edge-2`, `echo`, `presence`, `push`), as running now.
    public var components: [(name: String, process: LocalProcess)] {
        var all = routers.enumerated().map { ("router-\($0.offset + 1)", $0.element) } + edges.map { ($0.id, $0.process) }
        for (name, process) in [("echo", echoService), ("presence", presenceService), ("push", pushService), ("api", apiService)] {
            if let process { all.append((name, process)) }
        }
        return all
    }

    /// Starts component `name` again with the arguments and ports it had, as an orchestrator restarting a failed pod
    /// would (the old process, if still running, is killed first); does not wait until it is ready.
    @discardableResult
    public func restart(_ name: String) throws -> LocalProcess {
        guard let arguments = componentArguments[name], let old = components.first(where: { $0.name == name }) else {
            throw ClusterError.notReady(name: name, waitedSeconds: 0, output: "no such component to restart")
        }
        old.process.crash()
        let process = try startComponent(name: name, arguments)
        if let index = edges.firstIndex(where: { $0.id == name }) {
            edges[index].process = process
        } else if name.hasPrefix("router-"), let number = Int(name.dropFirst("router-".count)), routers.indices.contains(number - 1) {
            routers[number - 1] = process
        } else if name == "echo" {
            echoService = process
        } else if name == "presence" {
            presenceService = process
        } else if name == "push" {
            pushService = process
        } else if name == "api" {
            apiService = process
        }
        return process
    }

    /// The services the edges offer: ``Options/services``, plus `push` and `presence` when their services run.
    public var edgeServices: [String] {
        var services = options.services
        if options.push && !services.contains("push") { services.append("push") }
        if options.presence && !services.contains("presence") { services.append("presence") }
        return services
    }

    /// What components get as `--redis`: the server, or every node of the cluster as seeds.
    public var redisSeeds: String { redisPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") }

    /// The ports of Redis on 127.0.0.1: the server's, or every node's of the cluster.
    public var redisPorts: [Int] { redisCluster?.ports ?? [redis.port] }

    /// Restarts Redis on the same port and data directory.
    public func restartRedis() throws {
        redis = try redis.restart(persistent: options.persistentRedis, logDirectory: options.logDirectory)
    }

    /// Stops every component, then the broker and Redis.
    public func stop() {
        if let apiService { apiService.stop() }
        if let pushService { pushService.stop() }
        if let echoService { echoService.stop() }
        if let presenceService { presenceService.stop() }
        edges.forEach { $0.process.stop() }
        routers.forEach { $0.stop() }
        broker?.stop()
        redis?.stop()
        redisCluster?.stop()
    }
}

extension LocalCluster {
    /// The `gateway` executable built next to this process (tests run from the same build folder), if any.
    public static func gatewayNextToThisProcess() -> String? {
        let here = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: here).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("gateway").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}
