import Infrastructure
import Shared

/// Presence state in Redis (docs/redis-schema.md, "Presence"): each device's entry, who watches whom, rooms, and which
/// devices are online through which edge. Every transition is one Lua script (``PresenceScripts``), so several service
/// instances can run at once.
///
/// All methods block: call them only from dedicated threads (the consumers' and the sweeper's), never from an event
/// loop or the concurrency pool. They throw ``RedisError`` when Redis fails or answers something unreadable; nothing
/// is half done then, since each script is atomic.
public final class PresenceStore: Sendable {
    /// A change to announce: the device's entry and who gets the `change`.
    public struct Announcement: Sendable, Equatable {
        public var entry: PresenceEntry
        public var recipients: [String]
    }

    /// What a `join` found.
    public enum Joined: Sendable, Equatable {
        /// Joined; the other members, whose entries the joiner gets.
        case joined(others: [String])
        case roomFull
        case tooManyRooms
    }

    public let redis: RedisClient
    public let limits: PresenceLimits
    private let prefix: String
    private let keyPrefix: String

    /// - Parameter prefix: the installation prefix (`cg`); keys are `<prefix>:presence:…`.
    public init(redis: RedisClient, prefix: String, limits: PresenceLimits = PresenceLimits()) {
        self.redis = redis
        self.limits = limits
        self.prefix = prefix
        keyPrefix = "\(prefix):presence:"
    }

    func devKey(_ device: String) -> String { "\(keyPrefix)dev:\(device)" }
    private func watchingKey(_ device: String) -> String { "\(keyPrefix)watching:\(device)" }
    private func roomKey(_ room: String) -> String { "\(keyPrefix)room:\(room)" }
    private func roomsKey(_ device: String) -> String { "\(keyPrefix)rooms:\(device)" }
    private var edgesKey: String { "\(keyPrefix)edges" }

    /// Applies connection events in order (one pipeline); returns what each one announces (nil: nothing).
    public func apply(_ events: [ConnectionEvent]) throws -> [Announcement?] {
        guard !events.isEmpty else { return [] }
        let ttl = String(limits.entryTTL.redisMilliseconds)
        // Consecutive events of one kind go out as one pipeline; the runs are sent one after the other, so the events
        // of a device are applied in the order they came.
        var results: [Result<RedisValue, RedisError>] = []
        var start = 0
        while start < events.count {
            var end = start
            while end < events.count && events[end].kind == events[start].kind { end += 1 }
            let run = events[start..<end]
            let kind = events[start].kind
            results += try redis.runBlocking(kind == .connect ? PresenceScripts.connect : PresenceScripts.disconnect,
                                             invocations: run.map { event in
                                                 kind == .connect
                                                     ? .init(keys: [devKey(event.device)],
                                                             args: [keyPrefix, event.device, event.edge, event.session, String(event.epoch), ttl,
                                                                    event.atMs.map(String.init) ?? ""])
                                                     : .init(keys: [devKey(event.device), DeviceRegistry.routeKey(prefix: prefix, device: event.device)],
                                                             args: [keyPrefix, event.device, String(event.epoch), ttl])
                                             })
            start = end
        }
        return try zip(events, results).map { event, result in try Self.announcement(device: event.device, try result.get()) }
    }

    /// Sets `device`'s status and note (nil clears it); returns its entry and who gets the change.
    public func set(device: String, status: String, note: String?) throws -> Announcement {
        let reply = try redis.runBlocking(PresenceScripts.set, keys: [devKey(device)],
                                          args: [keyPrefix, device, status, note ?? "", String(limits.entryTTL.redisMilliseconds)])
        guard let announcement = try Self.announcement(device: device, reply) else {
            throw RedisError(message: "unexpected reply to the presence set script: \(reply)", isConnectionError: false)
        }
        return announcement
    }

    /// The current entries of `devices`, in order (one pipeline); an unknown device reads as offline.
    public func entries(_ devices: [String]) throws -> [PresenceEntry] {
        guard !devices.isEmpty else { return [] }
        let results = try redis.pipelineBlocking(devices.map { ["HMGET", devKey($0), "online", "status", "note", "since", "version"] })
        return try zip(devices, results).map { device, result in
            PresenceEntry(device: device, fields: try result.get().array ?? [])
        }
    }

    /// Makes `watcher` watch `devices` (renewing watches it has); false, changing nothing, if it would then watch more
    /// than the limit.
    public func watch(watcher: String, devices: [String]) throws -> Bool {
        let reply = try redis.runBlocking(PresenceScripts.watch, keys: [watchingKey(watcher)],
                                          args: [keyPrefix, watcher, String(limits.membershipTTL.redisMilliseconds),
                                                 String(limits.maxWatched)] + devices)
        guard let fields = reply.array, let ok = fields.first?.int else {
            throw RedisError(message: "unexpected reply to the presence watch script: \(reply)", isConnectionError: false)
        }
        return ok == 1
    }

    /// Drops `watcher`'s watches of `devices`.
    public func unwatch(watcher: String, devices: [String]) throws {
        _ = try redis.runBlocking(PresenceScripts.unwatch, keys: [watchingKey(watcher)], args: [keyPrefix, watcher] + devices)
    }

    /// Puts `device` in `room` (renewing its membership), unless the room or the device is at its limit.
    public func join(device: String, room: String) throws -> Joined {
        let reply = try redis.runBlocking(PresenceScripts.join, keys: [roomKey(room), roomsKey(device)],
                                          args: [keyPrefix, device, room, String(limits.membershipTTL.redisMilliseconds),
                                                 String(limits.maxRoomMembers), String(limits.maxRoomsPerDevice)])
        guard let fields = reply.array, fields.count == 2, let ok = fields[0].int else {
            throw RedisError(message: "unexpected reply to the presence join script: \(reply)", isConnectionError: false)
        }
        if ok == 1 { return .joined(others: (fields[1].array ?? []).compactMap(\.string)) }
        return fields[1].string == "room" ? .roomFull : .tooManyRooms
    }

    /// Takes `device` out of `room`; returns whether it was a member and the members left.
    public func leave(device: String, room: String) throws -> (wasMember: Bool, members: [String]) {
        let reply = try redis.runBlocking(PresenceScripts.leave, keys: [roomKey(room), roomsKey(device)],
                                          args: [keyPrefix, device, room])
        guard let fields = reply.array, fields.count == 2 else {
            throw RedisError(message: "unexpected reply to the presence leave script: \(reply)", isConnectionError: false)
        }
        return (fields[0].int == 1, (fields[1].array ?? []).compactMap(\.string))
    }

    /// The edges that have devices online in presence.
    public func edgesWithDevices() throws -> [String] {
        (try redis.sendBlocking(["SMEMBERS", edgesKey]).array ?? []).compactMap(\.string)
    }

    /// If `edge`'s liveness key (`<prefix>:edge:<edge>`) is gone, makes up to `batch` of its devices offline; returns
    /// what that announces and whether the edge may have more devices left to sweep.
    public func sweep(edge: String, batch: Int = 500) throws -> (announcements: [Announcement], more: Bool) {
        let reply = try redis.runBlocking(PresenceScripts.sweep,
                                          keys: [DeviceRegistry.edgeKey(prefix: prefix, edge: edge), "\(keyPrefix)on:\(edge)", edgesKey],
                                          args: [keyPrefix, edge, String(batch)])
        guard let fields = reply.array, fields.count == 2, let left = fields[0].int else {
            throw RedisError(message: "unexpected reply to the presence sweep script: \(reply)", isConnectionError: false)
        }
        return (Self.announcements(fields[1]), left > 0)
    }

    /// Reads `{{device, entry, recipients}...}`.
    static func announcements(_ reply: RedisValue) -> [Announcement] {
        (reply.array ?? []).compactMap { item -> Announcement? in
            guard let parts = item.array, parts.count == 3, let device = parts[0].string else { return nil }
            return Announcement(entry: PresenceEntry(device: device, fields: parts[1].array ?? []),
                                recipients: (parts[2].array ?? []).compactMap(\.string))
        }
    }

    /// `edge` started at `atMs` (its clock): makes offline every device whose entry still names a connection of an
    /// earlier process of that edge, and returns what that announces. Connect events from before the start that arrive
    /// later are ignored from now on (for as long as the entries live).
    public func edgeStarted(_ edge: String, atMs: Int64, batch: Int = 500) throws -> [Announcement] {
        var cursor = "0"
        var announcements: [Announcement] = []
        repeat {
            let reply = try redis.runBlocking(PresenceScripts.edgeStarted,
                                              keys: ["\(keyPrefix)on:\(edge)", edgesKey],
                                              args: [keyPrefix, edge, String(atMs), cursor, String(batch),
                                                     String(limits.entryTTL.redisMilliseconds)])
            guard let fields = reply.array, fields.count == 2, let next = fields[0].string else {
                throw RedisError(message: "unexpected reply to the presence edge-start script: \(reply)", isConnectionError: false)
            }
            cursor = next
            announcements += Self.announcements(fields[1])
        } while cursor != "0"
        return announcements
    }

    /// Reads `{notify, entry, recipients}`; nil when the script announced nothing.
    static func announcement(device: String, _ reply: RedisValue) throws -> Announcement? {
        guard let fields = reply.array, let notify = fields.first?.int else {
            throw RedisError(message: "unexpected reply from a presence script: \(reply)", isConnectionError: false)
        }
        guard notify == 1, fields.count == 3 else { return nil }
        return Announcement(entry: PresenceEntry(device: device, fields: fields[1].array ?? []),
                            recipients: (fields[2].array ?? []).compactMap(\.string))
    }
}
