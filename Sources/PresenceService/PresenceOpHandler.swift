import Logging
import ServiceKit
import Shared

/// Carries out the ops devices send to service `presence` (docs/presence.md, "Ops"): replies to the sender and
/// announces changes to watchers, through the outbox of the ``ChannelService`` batch.
///
/// Guarantees: every device message gets exactly one reply per handling, with id `presence-<message id>` (an `error`
/// reply for a refused op); handling a message again (a repeated batch) repeats the same replies and announcements
/// with the same ids. Redis failures are thrown, so the whole batch is handled again.
struct PresenceOpHandler: Sendable {
    let store: PresenceStore
    let logger: Logger

    func handle(_ message: DeviceMessage, _ outbox: inout Outbox) throws {
        let ttl = store.limits.messageTTL
        func reply(_ body: PresenceMessage) {
            outbox.reply(to: message, id: PresenceIDs.reply(to: message.id), payload: body.payload, ttl: ttl)
        }
        let op: PresenceOp
        do {
            op = try PresenceOp.parse(message.payload, limits: store.limits)
        } catch {
            reply(.error(code: error.code, message: error.message))
            return
        }
        let device = message.device
        switch op {
        case .set(let status, let note):
            let announcement = try store.set(device: device, status: status, note: note)
            reply(.presence(announcement.entry))
            announce(announcement, &outbox)
        case .watch(let devices):
            guard try store.watch(watcher: device, devices: devices.filter { $0 != device }) else {
                reply(.error(code: .tooMany, message: "a device may watch at most \(store.limits.maxWatched) devices"))
                return
            }
            reply(.snapshot(room: nil, entries: try store.entries(devices)))
        case .unwatch(let devices):
            try store.unwatch(watcher: device, devices: devices)
            reply(.unwatched(devices))
        case .join(let room):
            switch try store.join(device: device, room: room) {
            case .roomFull:
                reply(.error(code: .tooMany, message: "room \(room) has its maximum of \(store.limits.maxRoomMembers) members"))
            case .tooManyRooms:
                reply(.error(code: .tooMany, message: "a device may be in at most \(store.limits.maxRoomsPerDevice) rooms"))
            case .joined(let others):
                reply(.snapshot(room: room, entries: try store.entries(others)))
                guard !others.isEmpty, let own = try store.entries([device]).first else { return }
                let id = PresenceIDs.joined(room: room, device: device, messageID: message.id)
                for member in others where member != device {
                    outbox.send(to: member, id: id, payload: PresenceMessage.change(own).payload, ttl: ttl)
                }
            }
        case .leave(let room):
            let (wasMember, members) = try store.leave(device: device, room: room)
            reply(.left(room: room, device: nil))
            guard wasMember else { return }
            let id = PresenceIDs.left(room: room, device: device, messageID: message.id)
            for member in members where member != device {
                outbox.send(to: member, id: id, payload: PresenceMessage.left(room: room, device: device).payload, ttl: ttl)
            }
        }
    }

    /// Sends the entry's `change` to each recipient, under the id of the entry's version.
    func announce(_ announcement: PresenceStore.Announcement, _ outbox: inout Outbox) {
        PresenceOpHandler.announce(announcement, to: &outbox, ttl: store.limits.messageTTL)
    }

    static func announce(_ announcement: PresenceStore.Announcement, to outbox: inout Outbox, ttl: Duration) {
        let entry = announcement.entry
        let id = PresenceIDs.change(device: entry.device, version: entry.version)
        let payload = PresenceMessage.change(entry).payload
        for recipient in announcement.recipients where recipient != entry.device {
            outbox.send(to: recipient, id: id, payload: payload, ttl: ttl)
        }
    }
}
