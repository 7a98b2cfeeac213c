import Foundation
import NIOConcurrencyHelpers
import Shared

/// The revocations an edge enforces, as last loaded from Redis by its ``RevocationFollower``.
///
/// Guarantees: ``revokes(_:)`` reads the rules in force without waiting on Redis (hello and refresh check it), and
/// ``replace(with:devices:)`` closes every connection on this edge whose token the new rules stop (4009).
final class EdgeRevocations: Sendable {
    private let rules = NIOLockedValueBox(RevocationSet())

    init(_ initial: RevocationSet = RevocationSet()) {
        rules.withLockedValue { $0 = initial }
    }

    var current: RevocationSet { rules.withLockedValue { $0 } }

    /// Whether a rule in force stops `grant` now.
    func revokes(_ grant: DeviceGrant) -> Bool {
        let set = current
        return !set.isEmpty && set.revocation(of: grant, now: Int64(Date().timeIntervalSince1970)) != nil
    }

    /// Puts `next` in force and closes the connections it stops: for rules of a device, that device's connection;
    /// for rules of a key, every connection is checked, one hop per event loop.
    /// - Returns: how many rules were new or changed.
    @discardableResult
    func replace(with next: RevocationSet, devices: ConnectedDevices) -> Int {
        let previous = rules.withLockedValue { rules in
            defer { rules = next }
            return rules
        }
        let changed = next.rules.values.filter { previous.rules[$0.target] != $0 }
        guard !changed.isEmpty else { return 0 }
        let now = Int64(Date().timeIntervalSince1970)
        var connections: [ConnectedDevices.Connection] = []
        if changed.contains(where: { if case .key = $0.target { true } else { false } }) {
            connections = devices.all()
        } else {
            for rule in changed {
                if case .device(let id) = rule.target, let connection = devices.find(id) { connections.append(connection) }
            }
        }
        var byLoop: [ObjectIdentifier: [ConnectedDevices.Connection]] = [:]
        for connection in connections { byLoop[ObjectIdentifier(connection.channel.eventLoop), default: []].append(connection) }
        for (_, batch) in byLoop {
            batch[0].channel.eventLoop.execute {
                for connection in batch { connection.handler.value.closeIfRevoked(next, now: now) }
            }
        }
        return changed.count
    }
}
