import NIOCore
import NIOPosix

/// Finds TCP ports on loopback that nothing listens on, by binding them for a moment.
///
/// Guarantees only that the port was free when asked: the caller binds it soon after.
public enum FreePort {
    /// Returns a port the kernel handed out for an ephemeral bind on 127.0.0.1.
    public static func next() throws -> Int {
        let channel = try bind(port: 0)
        defer { try? channel.close().wait() }
        guard let port = channel.localAddress?.port else { throw ClusterError.noFreePort(0) }
        return port
    }

    /// Returns the first of `count` consecutive free ports at or after `start`, or throws if none are found.
    public static func consecutive(_ count: Int, from start: Int) throws -> Int {
        var base = start
        while base + count < 65_000 {
            if (0..<count).allSatisfy({ isFree(base + $0) }) { return base }
            base += count
        }
        throw ClusterError.noFreePort(0)
    }

    /// Tells whether a port on 127.0.0.1 can be bound right now (with SO_REUSEADDR, as servers bind, so connections
    /// in TIME_WAIT do not make it busy).
    public static func isFree(_ port: Int) -> Bool {
        guard let channel = try? bind(port: port) else { return false }
        try? channel.close().wait()
        return true
    }

    private static func bind(port: Int) throws -> any Channel {
        try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: port)
            .wait()
    }
}
