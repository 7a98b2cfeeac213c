import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Finds TCP ports on loopback that nothing listens on.
///
/// Guarantees only that the port was free when asked: the caller binds it soon after.
public enum FreePort {
    /// Returns a port the kernel handed out for an ephemeral bind on 127.0.0.1.
    public static func next() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClusterError.noFreePort(errno) }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { ptr -> Bool in
                bind(fd, ptr, len) == 0 && getsockname(fd, ptr, &len) == 0
            }
        }
        guard bound else { throw ClusterError.noFreePort(errno) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Returns `count` consecutive free ports starting at or after `from`, or throws if none are found.
    public static func consecutive(_ count: Int, from start: Int) throws -> Int {
        var base = start
        while base + count < 65_000 {
            if (0..<count).allSatisfy({ isFree(base + $0) }) { return base }
            base += count
        }
        throw ClusterError.noFreePort(0)
    }

    /// Tells whether a port on 127.0.0.1 can be bound right now.
    public static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // Servers bind with SO_REUSEADDR, so connections in TIME_WAIT do not make a port busy for them either.
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
