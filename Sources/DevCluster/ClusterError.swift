import Foundation

/// Why a local process or cluster could not be started.
public enum ClusterError: Error, CustomStringConvertible {
    case noFreePort(Int32)
    case executableNotFound(String, hint: String)
    case exitedEarly(name: String, status: Int32, output: String)
    case notReady(name: String, waitedSeconds: Double, output: String)

    public var description: String {
        switch self {
        case .noFreePort(let errno): return "no free TCP port on 127.0.0.1 (errno \(errno))"
        case .executableNotFound(let name, let hint): return "\(name) not found: \(hint)"
        case .exitedEarly(let name, let status, let output):
            return "\(name) exited with status \(status) before it was ready; its last output:\n\(output)"
        case .notReady(let name, let waited, let output):
            return "\(name) was not ready after \(waited) s; its last output:\n\(output)"
        }
    }
}
