import Foundation
import Infrastructure
import Lifecycle

#if canImport(Glibc)
import Glibc
#endif

/// A child process whose output is kept (the last lines in memory, all of it in an optional log file) and watched
/// for a readiness line.
///
/// Every `LocalProcess` started and not yet stopped is killed when the starting process exits normally or
/// is told to stop by SIGINT/SIGTERM through ``LocalProcess/stopAll()``. Our own gateway components also exit by
/// themselves when their standard input closes, so they do not outlive a parent that was killed.
public final class LocalProcess: @unchecked Sendable {
    public let name: String
    public var pid: Int32 { child.pid }

    private let child: ChildSpawn
    private let lock = NSCondition()
    private var lines: [String] = []
    private var totalLines = 0
    private var partial = Data()
    private let echo: (@Sendable (String) -> Void)?
    private let logHandle: FileHandle?
    private var reader: DedicatedThread?

    /// Starts `executable` (a path) with `arguments`.
    /// - Parameters:
    ///   - echo: called with every output line, for example to print it with a prefix.
    ///   - logFile: where to append all output.
    public init(
        name: String, executable: String, arguments: [String], environment: [String: String]? = nil,
        logFile: String? = nil, echo: (@Sendable (String) -> Void)? = nil
    ) throws {
        self.name = name
        self.echo = echo
        if let logFile {
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            logHandle = FileHandle(forWritingAtPath: logFile)
        } else {
            logHandle = nil
        }
        child = try ChildSpawn(executable: executable, arguments: arguments, environment: environment)
        // A blocking reader of our own, not Foundation's `readabilityHandler`: that one runs on a Dispatch read
        // source, and libdispatch on Linux crashes (SIGSEGV in `_dispatch_event_loop_drain`) when many such sources
        // come and go, as they do in a test run that starts and kills hundreds of children. The thread holds the
        // child, so the descriptor it reads stays open (and is not reused) until it returns.
        let child = self.child
        reader = DedicatedThread(name: "output of \(name)") { [weak self] _ in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = child.readOutput(into: &buffer)
                guard count > 0 else { self?.outputEnded(); return }
                guard let self else { return }
                self.take(Data(buffer[0..<count]))
            }
        }
        reader?.start()
        ProcessTable.shared.add(self)
    }

    private func take(_ data: Data) {
        logHandle?.write(data)
        lock.lock()
        partial.append(data)
        var complete: [String] = []
        while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: partial[partial.startIndex..<newline], as: UTF8.self)
            partial.removeSubrange(partial.startIndex...newline)
            complete.append(line)
        }
        lines.append(contentsOf: complete)
        totalLines += complete.count
        if lines.count > 400 { lines.removeFirst(lines.count - 400) }
        lock.broadcast()
        lock.unlock()
        if let echo { complete.forEach(echo) }
    }

    private var ended = false

    private func outputEnded() {
        lock.lock()
        ended = true
        lock.broadcast()
        lock.unlock()
    }

    /// Whether everything the process printed has been read (its output closed: it and any child holding it exited).
    public var outputClosed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return ended
    }

    /// Whether the process is still running.
    public var isRunning: Bool { exitStatus() == nil }

    /// The exit status once the process has exited (128 + signal number when a signal ended it), else nil.
    private func exitStatus() -> Int32? { child.exitStatus }

    /// Waits up to `seconds` for the process to exit; returns its status, or nil if it still runs.
    private func waitForExit(_ seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let status = exitStatus() { return status }
            if Date() > deadline { return nil }
            usleep(20_000)
        }
    }

    /// The last lines the process printed (at most 60).
    public var recentOutput: String { output(lastLines: 60) }

    /// The last `count` lines the process printed (at most 400 are kept).
    public func output(lastLines count: Int) -> String {
        lock.lock()
        defer { lock.unlock() }
        return lines.suffix(count).joined(separator: "\n")
    }

    /// Waits until the process prints a line containing `marker` and returns that line.
    /// - Throws: ``ClusterError/exitedEarly(name:status:output:)`` if it exits first,
    ///   ``ClusterError/notReady(name:waitedSeconds:output:)`` after `timeout` seconds.
    @discardableResult
    public func waitForLine(containing marker: String, timeout: Double = 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        defer { lock.unlock() }
        var checked = 0
        var seenTotal = totalLines - lines.count
        while true {
            let firstIndexUnseen = max(0, checked - seenTotal)
            if firstIndexUnseen < lines.count {
                for line in lines[firstIndexUnseen...] where line.contains(marker) { return line }
            }
            checked = totalLines
            seenTotal = totalLines - lines.count
            if let status = child.exitStatus {
                // Let the reader drain what the process wrote last.
                _ = lock.wait(until: Date().addingTimeInterval(0.2))
                if let line = lines.last(where: { $0.contains(marker) }) { return line }
                throw ClusterError.exitedEarly(name: name, status: status,
                                               output: lines.suffix(30).joined(separator: "\n"))
            }
            if Date() > deadline {
                throw ClusterError.notReady(name: name, waitedSeconds: timeout,
                                            output: lines.suffix(30).joined(separator: "\n"))
            }
            _ = lock.wait(until: min(deadline, Date().addingTimeInterval(0.2)))
        }
    }

    /// Writes `line` and a newline to the process's standard input (commands to a worker process).
    public func send(line: String) {
        guard isRunning else { return }
        child.write(Array((line + "\n").utf8))
    }

    /// Sends `signal` to the process.
    public func signal(_ signal: Int32) {
        if isRunning { kill(child.pid, signal) }
    }

    /// Stops the process: SIGTERM, then SIGKILL if it has not exited after `grace` seconds. Returns its exit status.
    @discardableResult
    public func stop(grace: Double = 5) -> Int32 {
        defer { ProcessTable.shared.remove(self) }
        if let status = exitStatus() { return status }
        kill(child.pid, SIGTERM)
        var status = waitForExit(grace)
        if status == nil {
            kill(child.pid, SIGKILL)
            status = waitForExit(10)
        }
        child.closeInput()
        return status ?? -1
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    public func crash() {
        if exitStatus() == nil { kill(child.pid, SIGKILL) }
        _ = waitForExit(10)
        ProcessTable.shared.remove(self)
    }

    /// Stops every process started by this program that is still running.
    public static func stopAll() { ProcessTable.shared.stopAll() }

    /// Runs a short command to its end, blocking, and returns its exit status and its output (stdout and stderr).
    /// - Parameter executable: a path; `/usr/bin/env` finds one in `PATH` (and `env -C dir` runs it in `dir`).
    public static func runToEnd(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let child = try ChildSpawn(executable: executable, arguments: arguments)
        child.closeInput()
        let output = child.readOutputToEnd()
        return (child.waitForExit(), String(decoding: output, as: UTF8.self))
    }

    /// Finds an executable in `PATH` or in the usual install prefixes.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin"]
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// The processes started and not yet stopped, stopped together at exit.
final class ProcessTable: @unchecked Sendable {
    static let shared = ProcessTable()
    private let lock = NSLock()
    private var processes: [ObjectIdentifier: LocalProcess] = [:]

    private init() {
        atexit { ProcessTable.shared.stopAll() }
    }

    func add(_ p: LocalProcess) { lock.withLock { processes[ObjectIdentifier(p)] = p } }
    func remove(_ p: LocalProcess) { lock.withLock { _ = processes.removeValue(forKey: ObjectIdentifier(p)) } }

    func stopAll() {
        let all = lock.withLock { Array(processes.values) }
        all.forEach { $0.signal(SIGTERM) }
        all.forEach { $0.stop(grace: 3) }
    }
}
