internal import CSystemCalls
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts a child process with `posix_spawn`, its standard input and output on pipes of ours, and reaps it.
///
/// Foundation's `Process` is not used: on Linux (Swift 6.3.1) `Process.run()` crashes now and then with a buffer
/// over-read while it lists `/proc/self/fd` (swift-corelibs-foundation PR 5472), which killed whole test runs, and it
/// sometimes never learns that a child exited. This type is the one place this code base spawns a process.
///
/// Guarantees: the child starts with no signal blocked and the default disposition of every signal (a parent's
/// blocked SIGTERM must not make it deaf to `stop()`) and with no descriptor of ours but its pipes; our pipe ends are
/// close-on-exec from their creation, so no other child inherits them and an end of output really means the child
/// (and what it started) closed it; the child is reaped once, here. The system calls themselves, which take raw
/// pointers, are in C (`cg_spawn` and its neighbours, Sources/CSystemCalls).
public final class ChildSpawn: @unchecked Sendable {
    public let pid: Int32
    /// Our end of the child's standard input, or -1 once closed.
    private var input: Int32
    /// Our end of the child's standard output and error (both on one pipe).
    private let output: Int32
    private let lock = NSLock()
    private var status: Int32?

    /// Writing to a child that has exited must fail with EPIPE, not kill this process.
    private static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

    public init(executable: String, arguments: [String], environment: [String: String]? = nil) throws {
        Self.ignoreBrokenPipes
        let environment = environment.map { ProcessInfo.processInfo.environment.merging($0) { $1 } }
            ?? ProcessInfo.processInfo.environment
        let argv = Self.laidEndToEnd([executable] + arguments)
        let envp = Self.laidEndToEnd(environment.map { "\($0.key)=\($0.value)" })
        var pid: pid_t = 0
        var input: Int32 = -1
        var output: Int32 = -1
        let result = cg_spawn(executable, argv, argv.count, envp, envp.count, &pid, &input, &output)
        guard result == 0 else { throw SpawnError(executable: executable, code: result) }
        self.pid = pid
        self.input = input
        self.output = output
    }

    /// The strings as `cg_spawn` takes them: each NUL-terminated, one after the other.
    private static func laidEndToEnd(_ strings: [String]) -> [CChar] {
        strings.reduce(into: []) { $0 += $1.utf8CString }
    }

    deinit {
        closeInput()
        close(output)
    }

    /// The exit status once the child has exited (128 + signal number when a signal ended it), else nil. Never blocks.
    public var exitStatus: Int32? { reap(blocking: false) }

    /// Blocks until the child exits; returns its exit status.
    public func waitForExit() -> Int32 { reap(blocking: true) ?? -1 }

    private func reap(blocking: Bool) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let status { return status }
        let code = cg_reap(pid, blocking ? 1 : 0)
        guard code >= 0 else { return nil }
        status = code
        return code
    }

    /// Writes all of `bytes` to the child's standard input; false if it cannot (closed, or the child exited).
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return input >= 0 && cg_write_all(input, bytes, bytes.count) == 1
    }

    public func closeInput() {
        lock.lock()
        defer { lock.unlock() }
        if input >= 0 { close(input) }
        input = -1
    }

    /// Reads what the child wrote next into the front of `buffer` (blocking until something comes); returns how many
    /// bytes, 0 once the child (and whatever it started) closed its output or the read failed.
    public func readOutput(into buffer: inout [UInt8]) -> Int {
        let capacity = buffer.count
        return cg_read(output, &buffer, capacity)
    }

    /// Reads the child's output until it closes it (blocking).
    public func readOutputToEnd() -> [UInt8] {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = readOutput(into: &buffer)
            guard n > 0 else { return all }
            all += buffer[0..<n]
        }
    }
}

/// A child process could not be started: `code` is the errno (or `posix_spawn`'s result).
public struct SpawnError: Error, CustomStringConvertible {
    public let executable: String
    public let code: Int32

    public var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
}
