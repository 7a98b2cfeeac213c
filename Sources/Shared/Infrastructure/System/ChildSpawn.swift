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
/// blocked SIGTERM must not make it deaf to `stop()`); our pipe ends are close-on-exec, so no other child inherits
/// them and an end of output really means the child (and what it started) closed it; the child is reaped once, here.
public final class ChildSpawn: @unchecked Sendable {
    public let pid: pid_t
    /// Our end of the child's standard input, or -1 once closed.
    private var input: Int32
    /// Our end of the child's standard output and error (both on one pipe).
    private let output: Int32
    private let lock = NSLock()
    private var status: Int32?

    private static let spawning = NSLock()
    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which the Glibc module does not declare.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()
    /// Writing to a child that has exited must fail with EPIPE, not kill this process.
    private static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

    public init(executable: String, arguments: [String], environment: [String: String]? = nil) throws {
        Self.ignoreBrokenPipes
        var inPipe: [Int32] = [0, 0]
        var outPipe: [Int32] = [0, 0]
        // pipe2(O_CLOEXEC) is not in the Glibc module; the lock keeps another spawn of ours from starting between
        // pipe() and the fcntl, when the child would inherit these ends.
        Self.spawning.lock()
        defer { Self.spawning.unlock() }
        guard pipe(&inPipe) == 0 else { throw SpawnError(executable: executable, code: errno) }
        guard pipe(&outPipe) == 0 else {
            close(inPipe[0]); close(inPipe[1])
            throw SpawnError(executable: executable, code: errno)
        }
        for fd in inPipe + outPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the copies; every other descriptor (sockets of this process that are not
        // close-on-exec, another child's pipe made by other code) is closed, so the child holds no port or pipe of
        // ours open after we close it.
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 2)
        guard let closeFrom = Self.addCloseFrom else { throw SpawnError(executable: executable, code: ENOSYS) }
        _ = closeFrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let env = (environment.map { ProcessInfo.processInfo.environment.merging($0) { $1 } } ?? ProcessInfo.processInfo.environment)
            .map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        close(inPipe[0])
        close(outPipe[1])
        guard result == 0 else {
            close(inPipe[1]); close(outPipe[0])
            throw SpawnError(executable: executable, code: result)
        }
        pid = child
        input = inPipe[1]
        output = outPipe[0]
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
        var raw: Int32 = 0
        while true {
            let reaped = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
            if reaped == -1 && errno == EINTR { continue }
            guard reaped == pid else { return nil }
            break
        }
        let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        status = code
        return code
    }

    /// Writes all of `bytes` to the child's standard input; false if it cannot (closed, or the child exited).
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard input >= 0 else { return false }
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.write(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
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
        while true {
            let n = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            return max(n, 0)
        }
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
