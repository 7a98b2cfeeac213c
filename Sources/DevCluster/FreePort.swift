import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Finds TCP ports on loopback that nothing listens on, by binding them for a moment.
///
/// Guarantees only that the port was free when asked: the caller binds it soon after. No port comes from the
/// kernel's ephemeral range, and this process never hands out the same port twice, whichever of the two functions
/// asked.
public enum FreePort {
    /// Returns a free port from 30,000 to 32,767: below the range every outgoing connection draws its local port from
    /// (32,768 and up), where another process's connection could take the port in the seconds before its server bound
    /// it (`gateway dev`'s API, bound last, failed so), and above where ``consecutive(_:from:)`` usually starts.
    public static func next() throws -> Int {
        for _ in 0..<1_000 {
            if let port = try? consecutive(1, from: Int.random(in: 30_000..<32_768)), port < 32_768 { return port }
        }
        throw ClusterError.noFreePort(0)
    }

    /// Returns the first of `count` consecutive free ports at or after `start`, none handed out before by this
    /// process, or throws if none are found.
    public static func consecutive(_ count: Int, from start: Int) throws -> Int {
        var base = start
        while base + count < 65_000 {
            let ports = base..<base + count
            if ports.allSatisfy(isFree), handedOut.withLockedValue({ taken in
                guard taken.isDisjoint(with: ports) else { return false }
                taken.formUnion(ports)
                return true
            }) {
                return base
            }
            base += count
        }
        throw ClusterError.noFreePort(0)
    }

    /// Marks ports chosen elsewhere (a command line's `--port`, a test's fixed ports) as taken, so that neither function
    /// hands them out before their server binds them: `gateway dev`'s second edge once found its port taken by the
    /// first edge's admin endpoint, picked at random in the meantime.
    public static func reserve<Ports: Sequence<Int>>(_ ports: Ports) {
        handedOut.withLockedValue { $0.formUnion(ports) }
    }

    /// Every port this process handed out: one test's server may not have bound its port yet when another asks.
    private static let handedOut = NIOLockedValueBox<Set<Int>>([])

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
