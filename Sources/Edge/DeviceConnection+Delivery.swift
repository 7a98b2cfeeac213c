import ChannelProtocol
import Foundation
import NIOCore
import Shared

/// Delivery from the mailbox: notices handed off by routers, drains from Redis, acks from the device. All on the
/// event loop; a mailbox read is a future the Redis thread completes here.
extension DeviceConnection {
    /// The router stored `entry` in this device's mailbox and says so.
    func notice(_ entry: MailboxEntry) {
        guard registered != nil, session.state != .closed, let channel else { return }
        let expired = entry.expiresAtMs <= Int64(Date().timeIntervalSince1970 * 1000)
        switch window.notice(seq: entry.seq, id: entry.id, expired: expired) {
        case .deliver: write(entry, to: channel)
        case .drain: pump()
        case .skip, .wait: break
        }
    }

    /// Reads the mailbox if the window says a read is due, writes what it finds, and goes on while more is due.
    func pump() {
        // A closing connection lingers until the device closes too (EdgeContext.swift); it delivers nothing meanwhile.
        guard let device = registered?.device, session.state != .closed, let channel,
              let (after, limit) = window.beginDrain() else { return }
        let logger = edge.logger
        edge.mailbox.read(device: device, after: after, limit: limit, on: channel.eventLoop).assumeIsolated().whenComplete { [self] result in
            // The read already took the expired entries out of the mailbox: report them even if the connection ended.
            if case .success(let read) = result, !read.expired.isEmpty { report(read.expired, device: device, channel: channel) }
            guard registered?.device == device, session.state != .closed else { return }
            switch result {
            case .success(let read):
                for entry in window.endDrain(read.entries, limit: limit) { write(entry, to: channel) }
                pump()
            case .failure(let error):
                logger.warning("cannot read the mailbox of \(device), trying again in 1 s: \(error)")
                window.drainFailed()
                let this = NIOLoopBound(self, eventLoop: channel.eventLoop)
                channel.eventLoop.scheduleTask(in: .seconds(1)) { this.value.pump() }
            }
        }
    }

    /// The device acked a message: forget it here, delete it from the mailbox, and deliver what waits behind it.
    func deviceAcked(_ id: String, device: String) {
        _ = window.acked(id)
        // A lost delete only means the device may see this id again after a reconnect, and drops it as a duplicate.
        edge.acks.add(device: device, id: id)
        pump()
    }

    /// A newer connection of this device, on another edge, took over.
    func replaced(session: String) {
        guard registered?.session == session, let channel else { return }
        self.session.markClosed()
        channel.sendAndClose(nil, code: .replaced)
    }

    private func write(_ entry: MailboxEntry, to channel: any Channel) {
        let payload = Payload.from(bytes: entry.payload, contentType: entry.contentType)
        edge.metrics.frameOut(service: entry.service)
        edge.metrics.bytesOut.increment(by: Int64(entry.payload.count))
        channel.send(.msg(Message(service: entry.service, id: entry.id, payload: payload)), as: encoding)
    }

    private func report(_ expired: [MailboxEntry], device: String, channel: any Channel) {
        for entry in expired {
            let record = ReportRecord(device: device, entry: entry, reason: .expired).record(topics: edge.config.topics)
            // Best effort (docs/guarantees.md): a report that cannot be produced is not retried.
            _ = try? edge.publisher.send(record, on: channel.eventLoop)
        }
    }

    /// Tells the edge holding `replaced` to close that connection (a hand-off notice naming its session).
    static func askToClose(_ replaced: DeviceRoute, device: String, edge: EdgeContext) async {
        let why = "cannot ask \(replaced.edge) to close the replaced connection of \(device)"
        do {
            guard let record = try await edge.routes.edgeRecord(replaced.edge) else { return }  // gone: nothing to close
            // Not awaited: the hello goes on while the notice travels.
            edge.handoff.send([.close(device: device, session: replaced.session)], to: replaced.edge, at: record)
                .whenSuccess { outcome in
                    if case .abandoned(let reason) = outcome { edge.logger.warning("\(why): \(reason)") }
                }
        } catch {
            edge.logger.warning("\(why): \(error)")
        }
    }
}
