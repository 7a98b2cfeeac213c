import Logging
import ServiceKit
import Shared

/// Carries out the ops devices send to service `presence` (docs/presence.md, "Ops"): replies to the sender, announces
/// changes to watchers (one downstream message each) and to rooms (one record on the room's topic, for all its
/// members), through the outbox of the ``ChannelService`` batch.
///
/// Guarantees: every device message gets exactly one reply per handling, with id `presence-<message id>` (an `error`
/// reply for a malformed op, or one the sender's claims do not allow: ``PresenceAccess``, checked before anything
/// changes); handling a message again (a repeated batch) repeats the same replies and announcements with the same ids
/// (a repeated topic record is a new event with the same body). Redis failures are thrown, so the whole batch is
/// handled again.
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
        if let refusal = PresenceAccess.check(op, claims: message.claims) {
            reply(.error(code: refusal.code, message: refusal.message))
            return
        }
        let device = message.device
        switch op {
        case .set(let status, let note):
            let announcement = try store.set(device: device, status: status, note: note)
            reply(.presence(announcement.entry))
            try announce(announcement, &outbox)
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
                guard let own = try store.entries([device]).first else { return }
                // Published even into an empty room: a device may follow a room's topic without being a member.
                try outbox.publish(topic: PresenceTopic.room(room), payload: PresenceMessage.change(own).payload,
                                   id: PresenceIDs.joined(room: room, device: device, messageID: message.id))
            }
        case .leave(let room):
            let (wasMember, _) = try store.leave(device: device, room: room)
            reply(.left(room: room, device: nil))
            // A repeated leave (the batch handled again after the first one) finds no member and says nothing.
            guard wasMember else { return }
            try outbox.publish(topic: PresenceTopic.room(room), payload: PresenceMessage.left(room: room, device: device).payload,
                               id: PresenceIDs.left(room: room, device: device, messageID: message.id))
        }
    }

    /// ``announce(_:to:ttl:)`` with the service's message TTL.
    func announce(_ announcement: PresenceStore.Announcement, _ outbox: inout Outbox) throws(InvalidTopicName) {
        try PresenceOpHandler.announce(announcement, to: &outbox, ttl: store.limits.messageTTL)
    }

    /// Sends the entry's `change` to each watcher (downstream, with `ttl`) and publishes it once on the topic of each
    /// of the device's rooms, all under the id of the entry's version.
    /// - Throws: ``InvalidTopicName`` only for a room name no `join` accepts (never stored by this service).
    static func announce(_ announcement: PresenceStore.Announcement, to outbox: inout Outbox, ttl: Duration) throws(InvalidTopicName) {
        let entry = announcement.entry
        let id = PresenceIDs.change(device: entry.device, version: entry.version)
        let payload = PresenceMessage.change(entry).payload
        for recipient in announcement.recipients where recipient != entry.device {
            outbox.send(to: recipient, id: id, payload: payload, ttl: ttl)
        }
        for room in announcement.rooms {
            try outbox.publish(topic: PresenceTopic.room(room), payload: payload, id: id)
        }
    }
}
