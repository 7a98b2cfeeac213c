import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Says in the log why the listening socket cannot accept, on the server channel behind NIO's
/// `AcceptBackoffHandler` (which pauses accepting for a second after each such error instead of spinning).
///
/// Guarantees: accept errors never close the listening socket (NIO keeps it open for EMFILE, ENFILE, ENOBUFS, ENOMEM
/// and ECONNABORTED); running out of descriptors gets one clear warning line per ``interval``, naming the limit and
/// the connections open, while pending connections wait in the kernel's backlog.
final class AcceptErrorLogger: ChannelInboundHandler {
    typealias InboundIn = any Channel

    static let interval = TimeAmount.seconds(10)

    private let logger: Logger
    private let limiter: ConnectionLimiter
    private var lastLogged: NIODeadline?
    private var unlogged = 0

    init(logger: Logger, limiter: ConnectionLimiter) {
        self.logger = logger
        self.limiter = limiter
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        defer { context.fireErrorCaught(error) }
        guard let io = error as? IOError else { return }
        unlogged += 1
        let now = NIODeadline.now()
        if let lastLogged, now - lastLogged < Self.interval { return }
        lastLogged = now
        let limit = EdgeLimits.openFileLimit.map(String.init) ?? "unlimited"
        let repeated = unlogged > 1 ? " (\(unlogged) accept errors since the last such line)" : ""
        unlogged = 0
        switch io.errnoCode {
        case EMFILE, ENFILE:
            logger.warning("""
                cannot accept connections: out of file descriptors (\(io.errnoCode == EMFILE ? "EMFILE" : "ENFILE"), \
                open-file limit \(limit), \(limiter.open) connections open); retrying every second, new connections \
                wait meanwhile. Lower --max-connections or raise the limit (ulimit -n)\(repeated)
                """)
        default:
            logger.warning("cannot accept connections: \(io); retrying every second\(repeated)")
        }
    }
}
