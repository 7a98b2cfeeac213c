import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// The devices connected to this edge right now, by device id: the channel to write to and the session it belongs to.
///
/// Guarantees at most one connection per device on this edge: adding a device that is already here returns the
/// older channel so the caller can close it; removing names the session, so a closing old connection can never
/// remove its successor.
final class ConnectedDevices: @unchecked Sendable {
    struct Connection {
        let device: String
        let channel: any Channel
        let session: String
        /// The route's epoch when this connection claimed it; a higher one is a newer connection.
        let epoch: Int64
        /// The connection's handler, to be used only on the channel's event loop.
        let handler: NIOLoopBound<DeviceConnection>
    }

    private let lock = NIOLock()
    private var byDevice: [String: Connection] = [:]
    /// Follows the count, for the metrics.
    private let gauge: Gauge?

    init(gauge: Gauge? = nil) {
        self.gauge = gauge
    }

    enum Added {
        /// Recorded; `replaced` is the older connection it took the place of, to be closed.
        case added(replaced: Connection?)
        /// A connection with a newer claim is already here: this one is the stale one, to be closed.
        case outdated
    }

    /// Records `device` as connected on `channel`, unless a connection with a higher epoch already is.
    func add(device: String, session: String, epoch: Int64, channel: any Channel, handler: DeviceConnection) -> Added {
        let connection = Connection(device: device, channel: channel, session: session, epoch: epoch,
                                    handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
        return lock.withLock {
            if let current = byDevice[device], current.epoch > epoch { return .outdated }
            defer { gauge?.record(byDevice.count) }
            return .added(replaced: byDevice.updateValue(connection, forKey: device))
        }
    }

    /// Forgets `device` if its current connection is `session`.
    @discardableResult
    func remove(device: String, session: String) -> Bool {
        lock.withLock {
            guard byDevice[device]?.session == session else { return false }
            byDevice[device] = nil
            gauge?.record(byDevice.count)
            return true
        }
    }

    func find(_ device: String) -> Connection? { lock.withLock { byDevice[device] } }

    /// Every (device, session) pair, for refreshing routes.
    func routes() -> [(device: String, session: String)] {
        lock.withLock { byDevice.map { ($0.key, $0.value.session) } }
    }

    func all() -> [Connection] { lock.withLock { Array(byDevice.values) } }

    var count: Int { lock.withLock { byDevice.count } }
}
