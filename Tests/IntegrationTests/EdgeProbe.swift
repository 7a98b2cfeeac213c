import DevCluster
import Foundation
import Testing

/// Runs Tests/edge-probe/ws_probe.py (an independent Python client) and other short-lived commands for the TLS and
/// limit tests, and starts edges of their own against the shared test cluster's broker and Redis.
enum EdgeProbe {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static var python: String {
        ProcessInfo.processInfo.environment["CG_TEST_PYTHON"] ?? "/var/cache/channel-gateway/test-venv/bin/python"
    }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("edge-probe/ws_probe.py").path
    }

    /// Starts the probe with `arguments` (a mode and its flags); the caller reads its lines.
    static func start(_ arguments: [String], name: String = "probe") throws -> LocalProcess {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Failure("no Python with websockets at \(python): run scripts/setup.sh")
        }
        return try LocalProcess(name: name, executable: python, arguments: [script] + arguments)
    }

    /// Runs the probe to its end and returns the value of its first `key=` line.
    static func value(_ key: String, _ arguments: [String], timeout: Double = 30) async throws -> String {
        let probe = try start(arguments)
        defer { probe.stop(grace: 1) }
        let line = try await probe.line(containing: "\(key)=", timeout: timeout)
        return String(line.split(separator: "=", maxSplits: 1)[1])
    }

    /// A device session (hello and echo round trips) over `url`, verifying the certificate against `ca` for wss.
    static func session(url: String, ca: String? = nil, device: String, holdUntil: String? = nil) async throws -> LocalProcess {
        var arguments = ["session", "--url", url, "--device", device, "--token", try await TestCluster.token(device)]
        if let ca { arguments += ["--ca", ca] }
        if let holdUntil { arguments += ["--hold-until", holdUntil] }
        return try start(arguments, name: "session-\(device)")
    }

    /// The serial of the certificate the session's connection got.
    static func serial(_ session: LocalProcess) async throws -> String {
        let line = try await session.line(containing: "serial=", timeout: 20)
        guard !line.contains("probe failed") else { throw Failure(line) }
        return String(line.split(separator: "=", maxSplits: 1)[1]).uppercased()
    }

    /// Runs a command to its end (at most `timeout` seconds): its exit status and last lines of output.
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 30) async throws -> (status: Int32, output: String) {
        let process = try LocalProcess(name: URL(fileURLWithPath: executable).lastPathComponent,
                                       executable: executable, arguments: arguments)
        await process.exit(within: timeout)
        let status = process.stop(grace: 1)
        // Let the reader take what the process wrote last.
        try await Task.sleep(for: .milliseconds(200))
        return (status, process.recentOutput)
    }

    static func temporaryDirectory(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "channel-gateway-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// An edge process of its own (plaintext, with `flags`) on the shared test cluster's broker and Redis, for limits
    /// too small for the shared edges. `shell` wraps the command (for example to lower `ulimit -n`).
    static func startEdge(_ name: String, _ flags: [String], shell: String? = nil) async throws -> (process: LocalProcess, id: String, port: Int, url: String) {
        // A port is only free when checked: another process of the suite may bind it first. Then try another.
        var attempt = 1
        while true {
            do {
                return try await startEdgeOnce(name, flags, shell: shell)
            } catch let error as PortTaken where attempt < 3 {
                print("[\(name)] \(error.port) was taken before the edge bound it; trying another port")
                attempt += 1
            }
        }
    }

    private struct PortTaken: Error { let port: Int }

    private static func startEdgeOnce(_ name: String, _ flags: [String], shell: String?) async throws -> (process: LocalProcess, id: String, port: Int, url: String) {
        let cluster = try await TestCluster.shared
        let port = try FreePort.next()
        let id = "limits-\(name)-\(getpid())"
        let arguments = ["edge", "--id", id, "--port", "\(port)", "--kafka", cluster.broker.bootstrap,
                         "--redis", "127.0.0.1:\(cluster.redis.port)", "--prefix", "cg", "--services", "echo",
                         "--exit-with-stdin", "--plaintext"] + flags
        let log = cluster.options.logDirectory.map { "\($0)/\(id).log" }
        let process: LocalProcess
        if let shell {
            process = try LocalProcess(name: id, executable: "/bin/sh",
                                       arguments: ["-c", "\(shell); exec \"$0\" \"$@\"", TestCluster.gatewayExecutable] + arguments,
                                       logFile: log)
        } else {
            process = try LocalProcess(name: id, executable: TestCluster.gatewayExecutable, arguments: arguments, logFile: log)
        }
        do {
            try await process.line(containing: "edge ready", timeout: 60)
        } catch {
            process.stop()
            if process.output(lastLines: 5).contains("Address already in use") { throw PortTaken(port: port) }
            throw error
        }
        return (process, id, port, "ws://127.0.0.1:\(port)/v1/channel")
    }
}
