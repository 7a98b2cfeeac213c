import Foundation
import NIOCore

/// The connections of one event loop, visited once a second by a single timer that runs their hello timeouts and
/// heartbeats.
///
/// One timer per loop instead of two per connection: tens of thousands of per-connection timers cost memory for
/// each, and CPU for every insertion into and removal from the loop's timer heap. A deadline here fires within about
/// a second after it is due, which is well inside the protocol's heartbeat and hello timeouts.
final class ConnectionSweep: @unchecked Sendable {
    static let interval = TimeAmount.seconds(1)

    let eventLoop: any EventLoop
    private var connections: [DeviceConnection?] = []
    private var freeSlots: [Int] = []

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        // The timer runs on the loop, the only place the table is touched.
        eventLoop.scheduleRepeatedTask(initialDelay: Self.interval, delay: Self.interval) { [self] _ in visit() }
    }

    /// Adds a connection of this loop; returns its slot, to be given back with ``remove(slot:)``. On the loop only.
    func add(_ connection: DeviceConnection) -> Int {
        eventLoop.preconditionInEventLoop()
        if let slot = freeSlots.popLast() {
            connections[slot] = connection
            return slot
        }
        connections.append(connection)
        return connections.count - 1
    }

    /// Forgets the connection in `slot`. On the loop only.
    func remove(slot: Int) {
        eventLoop.preconditionInEventLoop()
        guard connections.indices.contains(slot), connections[slot] != nil else { return }
        connections[slot] = nil
        freeSlots.append(slot)
    }

    private func visit() {
        let now = NIODeadline.now()
        let wallSeconds = Date().timeIntervalSince1970
        // A connection may close (and free its slot) while visited; the slot is then nil or reused, both harmless.
        var slot = 0
        while slot < connections.count {
            connections[slot]?.sweep(now: now, wallSeconds: wallSeconds)
            slot += 1
        }
    }
}

/// One sweep per event loop of the edge's group.
struct ConnectionSweeps: Sendable {
    private let sweeps: [ConnectionSweep]

    init(group: any EventLoopGroup) {
        sweeps = group.makeIterator().map { ConnectionSweep(eventLoop: $0) }
    }

    /// The sweep of `eventLoop`, which must belong to the group.
    func sweep(for eventLoop: any EventLoop) -> ConnectionSweep {
        sweeps.first { $0.eventLoop === eventLoop } ?? sweeps[0]
    }
}
