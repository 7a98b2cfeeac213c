import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reloads a ``TLSContextSource`` whenever the process gets SIGHUP, the signal operators already send to make a
/// server reread its certificates (`kill -HUP <pid>`, `systemctl reload`).
///
/// Guarantees: the reload runs on a serial dispatch queue of its own, never on an event loop; signals arriving during
/// a reload are coalesced into one more reload. While it exists SIGHUP no longer ends the process; ``cancel()``
/// restores the default.
final class TLSReloadOnHangup: @unchecked Sendable {
    // A dispatch source is thread-safe; it is only resumed here and cancelled in `cancel()`.
    private let source: any DispatchSourceSignal

    init(_ tls: TLSContextSource) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "edge.tls-reload"))
        source.setEventHandler { tls.reload() }
        source.resume()
    }

    func cancel() {
        source.cancel()
        signal(SIGHUP, SIG_DFL)
    }
}
