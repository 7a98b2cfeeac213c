import Foundation
import Infrastructure
import Shared

/// Presence state in Redis (docs/redis-schema.md, "Presence"): each device's entry, who watches whom, rooms, and which
/// devices are online through which edge. Every change of a device's entry is one Lua script on that device's keys
/// (``PresenceScripts``), so several service instances can run at once, on one Redis or a Redis Cluster; what spans
/// devices, rooms and edges is written beside those scripts, in an order that leaves nothing a later sweep cannot
/// repair.
///
/// All methods block: call them only from dedicated threads (the consumers' and the sweeper's), never from an event
/// loop or the concurrency pool. They throw ``RedisError`` when Redis fails or answers something unreadable; each
/// device's entry is then either changed or not, since each script is atomic.
public final class PresenceStore: Sendable {
    /// A change to announce: the device's entry, the watchers that get a `change` each (downstream), and the rooms
    /// it is in, each of whose topics (``PresenceTopic/room(_:)``) gets the `change` once for all its members.
    public struct Announcement: Sendable, Equatable {
        public var entry: PresenceEntry
        /// The device's explicit watchers, without the device itself, each once.
        public var recipients: [String]
        /// The rooms the device is in.
        public var rooms: [String]

        public init(entry: PresenceEntry, recipients: [String], rooms: [String] = []) {
            self.entry = entry
            self.recipients = recipients
            self.rooms = rooms
        }
    }

    /// What a `join` found.
    public enum Joined: Sendable, Equatable {
        /// Joined; the other members, whose entries the joiner gets.
        case joined(others: [String])
        case roomFull
        case tooManyRooms
    }

    public let redis: any RedisKeyspace
    public let limits: PresenceLimits
    private let prefix: String
    private let keyPrefix: String

    /// - Parameter prefix: the installation prefix (`cg`); keys are `<prefix>:presence:…`.
    public init(redis: any RedisKeyspace, prefix: String, limits: PresenceLimits = PresenceLimits()) {
        self.redis = redis
        self.limits = limits
        self.prefix = prefix
        keyPrefix = "\(prefix):presence:"
    }

    // Each key carries the hash tag of what it belongs to: a device, a watcher, a room or an edge (one Redis Cluster
    // slot each); the set of edges has none.
    func devKey(_ device: String) -> String { "\(keyPrefix)dev:{\(device)}" }
    private func watchersKey(_ device: String) -> String { "\(keyPrefix)watchers:{\(device)}" }
    private func roomsKey(_ device: String) -> String { "\(keyPrefix)rooms:{\(device)}" }
    private func watchingKey(_ device: String) -> String { "\(keyPrefix)watching:{\(device)}" }
    private func roomKey(_ room: String) -> String { "\(keyPrefix)room:{\(room)}" }
    private func onKey(_ edge: String) -> String { "\(keyPrefix)on:{\(edge)}" }
    private func startedKey(_ edge: String) -> String { "\(keyPrefix)started:{\(edge)}" }
    private var edgesKey: String { "\(keyPrefix)edges" }
    /// The KEYS of a device transition script: the device's entry, watchers and rooms.
    private func deviceKeys(_ device: String) -> [String] { [devKey(device), watchersKey(device), roomsKey(device)] }

    /// Applies connection events in order; returns what each one announces (nil: nothing).
    public func apply(_ events: [ConnectionEvent]) throws -> [Announcement?] {
        guard !events.isEmpty else { return [] }
        let ttl = String(limits.entryTTL.redisMilliseconds)
        // The edge side first: the edges' start marks (for the connects' check), and each connecting device in its
        // edge's online set, so that a crash after this leaves at most a set member the sweeps drop, never an online
        // device no sweep can find.
        let connects = events.filter { $0.kind == .connect }
        let edges = Array(Set(connects.map(\.edge)))
        var started: [String: String] = [:]
        if !edges.isEmpty {
            let marks = try redis.pipelineBlocking(edges.map { RedisCommand(["GET", startedKey($0)], key: startedKey($0)) }
                + connects.map { RedisCommand(["SADD", onKey($0.edge), $0.device], key: onKey($0.edge)) }
                + edges.map { RedisCommand(["SADD", edgesKey, $0], key: edgesKey) })
            for (edge, mark) in zip(edges, marks) { started[edge] = try mark.get().string }
            for reply in marks.dropFirst(edges.count) { _ = try reply.get() }
        }
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
                                                     ? .init(keys: deviceKeys(event.device),
                                                             args: [event.device, event.edge, event.session, String(event.epoch), ttl,
                                                                    event.atMs.map(String.init) ?? "", started[event.edge] ?? ""])
                                                     : .init(keys: deviceKeys(event.device) + [DeviceRegistry.routeKey(prefix: prefix, device: event.device)],
                                                             args: [String(event.epoch), ttl])
                                             })
            start = end
        }
        let transitions = try results.map { try Transition($0.get()) }
        // A device that left an edge leaves its set; a member left behind is dropped by the next sweep of that edge.
        let left = zip(events, transitions).filter { !$1.extra.isEmpty }
            .map { RedisCommand(["SREM", onKey($1.extra), $0.device], key: onKey($1.extra)) }
        _ = try? redis.pipelineBlocking(left)
        return announce(Array(zip(events.map(\.device), transitions)))
    }

    /// Sets `device`'s status and note (nil clears it); returns its entry and where the change goes.
    public func set(device: String, status: String, note: String?) throws -> Announcement {
        let reply = try redis.runBlocking(PresenceScripts.set, keys: deviceKeys(device),
                                          args: [status, note ?? "", String(limits.entryTTL.redisMilliseconds)])
        guard let announcement = announce([(device, try Transition(reply))])[0] else {
            throw RedisError(message: "unexpected reply to the presence set script: \(reply)", isConnectionError: false)
        }
        return announcement
    }

    /// The current entries of `devices`, in order (one pipeline); an unknown device reads as offline.
    public func entries(_ devices: [String]) throws -> [PresenceEntry] {
        guard !devices.isEmpty else { return [] }
        let results = try redis.pipelineBlocking(devices.map {
            RedisCommand(["HMGET", devKey($0), "online", "status", "note", "since", "version"], key: devKey($0))
        })
        return try zip(devices, results).map { device, result in
            PresenceEntry(device: device, fields: try result.get().array ?? [])
        }
    }

    /// Makes `watcher` watch `devices` (renewing watches it has); false, changing nothing, if it would then watch more
    /// than the limit. The watcher's side is one script; each device's side (its watchers) a command of its own.
    public func watch(watcher: String, devices: [String]) throws -> Bool {
        let ttl = String(limits.membershipTTL.redisMilliseconds)
        let reply = try redis.runBlocking(PresenceScripts.watch, keys: [watchingKey(watcher)],
                                          args: [watcher, ttl, String(limits.maxWatched)] + devices)
        guard let fields = reply.array, let ok = fields.first?.int else {
            throw RedisError(message: "unexpected reply to the presence watch script: \(reply)", isConnectionError: false)
        }
        guard ok == 1 else { return false }
        guard fields.count == 3, let expires = fields[2].string else {
            throw RedisError(message: "unexpected reply to the presence watch script: \(reply)", isConnectionError: false)
        }
        let now = String(Self.nowMs())
        for reply in try redis.pipelineBlocking(devices.flatMap { device -> [RedisCommand] in
            let key = watchersKey(device)
            return [RedisCommand(["ZREMRANGEBYSCORE", key, "-inf", now], key: key),
                    RedisCommand(["ZADD", key, expires, watcher], key: key),
                    RedisCommand(["PEXPIRE", key, ttl], key: key)]
        }) { _ = try reply.get() }
        return true
    }

    /// Drops `watcher`'s watches of `devices`, both ways.
    public func unwatch(watcher: String, devices: [String]) throws {
        guard !devices.isEmpty else { return }
        for reply in try redis.pipelineBlocking([RedisCommand(["ZREM", watchingKey(watcher)] + devices, key: watchingKey(watcher))]
            + devices.map { RedisCommand(["ZREM", watchersKey($0), watcher], key: watchersKey($0)) }) { _ = try reply.get() }
    }

    /// Puts `device` in `room` (renewing its membership), unless the room or the device is at its limit. The room's
    /// side is one script, the device's another; when the device's limit refuses, a membership the first one added
    /// is taken back.
    public func join(device: String, room: String) throws -> Joined {
        let ttl = String(limits.membershipTTL.redisMilliseconds)
        let reply = try redis.runBlocking(PresenceScripts.join, keys: [roomKey(room)],
                                          args: [device, ttl, String(limits.maxRoomMembers)])
        guard let fields = reply.array, let ok = fields.first?.int else {
            throw RedisError(message: "unexpected reply to the presence join script: \(reply)", isConnectionError: false)
        }
        guard ok == 1 else { return .roomFull }
        guard fields.count == 3 else {
            throw RedisError(message: "unexpected reply to the presence join script: \(reply)", isConnectionError: false)
        }
        let entered = try redis.runBlocking(PresenceScripts.enterRoom, keys: [roomsKey(device)],
                                            args: [room, ttl, String(limits.maxRoomsPerDevice)])
        guard entered.int == 1 else {
            if fields[2].int == 1 { _ = try redis.sendBlocking(["ZREM", roomKey(room), device], key: roomKey(room)) }
            return .tooManyRooms
        }
        return .joined(others: (fields[1].array ?? []).compactMap(\.string))
    }

    /// Takes `device` out of `room`; returns whether it was a member and the members left.
    public func leave(device: String, room: String) throws -> (wasMember: Bool, members: [String]) {
        let replies = try redis.runBlocking(PresenceScripts.leave, byteInvocations: [RedisScript.ByteInvocation(keys: [Array(roomKey(room).utf8)], args: [Array(device.utf8)])],
                                            alongside: [RedisCommand(["ZREM", roomsKey(device), room], key: roomsKey(device))])
        let reply = try replies.scripts[0].get()
        _ = try replies.commands[0].get()
        guard let fields = reply.array, fields.count == 2 else {
            throw RedisError(message: "unexpected reply to the presence leave script: \(reply)", isConnectionError: false)
        }
        return (fields[0].int == 1, (fields[1].array ?? []).compactMap(\.string))
    }

    /// The edges that have devices online in presence.
    public func edgesWithDevices() throws -> [String] {
        (try redis.sendBlocking(["SMEMBERS", edgesKey], key: edgesKey).array ?? []).compactMap(\.string)
    }

    /// If `edge`'s liveness key (`<prefix>:edge:<edge>`) is gone, makes up to `batch` of its devices offline; returns
    /// what that announces and whether the edge may have more devices left to sweep. Devices leave the edge's set only
    /// after their entries were updated, so a crash in between leaves them for the next sweep.
    public func sweep(edge: String, batch: Int = 500) throws -> (announcements: [Announcement], more: Bool) {
        let liveness = DeviceRegistry.edgeKey(prefix: prefix, edge: edge)
        if try redis.sendBlocking(["EXISTS", liveness], key: liveness).int == 1 { return ([], false) }
        let devices = (try redis.sendBlocking(["SRANDMEMBER", onKey(edge), String(batch)], key: onKey(edge)).array ?? [])
            .compactMap(\.string)
        var announcements: [Announcement] = []
        if !devices.isEmpty {
            let transitions = try redis.runBlocking(PresenceScripts.offline, invocations: devices.map {
                .init(keys: deviceKeys($0), args: [edge])
            }).map { try Transition($0.get()) }
            announcements = announce(Array(zip(devices, transitions))).compactMap { $0 }
            _ = try redis.sendBlocking(["SREM", onKey(edge)] + devices, key: onKey(edge))
        }
        let left = try forgetEdgeIfEmpty(edge)
        return (announcements, left > 0)
    }

    /// `edge` started at `atMs` (its clock): makes offline every device whose entry still names a connection of an
    /// earlier process of that edge, and returns what that announces. Connect events from before the start that arrive
    /// later are ignored from now on (for as long as the entries live).
    public func edgeStarted(_ edge: String, atMs: Int64, batch: Int = 500) throws -> [Announcement] {
        var cursor = "0"
        var announcements: [Announcement] = []
        repeat {
            let reply = try redis.runBlocking(PresenceScripts.edgeStartedScan, keys: [startedKey(edge), onKey(edge)],
                                              args: [String(atMs), cursor, String(batch), String(limits.entryTTL.redisMilliseconds)])
            guard let fields = reply.array, fields.count == 2, let next = fields[0].string else {
                throw RedisError(message: "unexpected reply to the presence edge-start script: \(reply)", isConnectionError: false)
            }
            cursor = next
            let devices = (fields[1].array ?? []).compactMap(\.string)
            guard !devices.isEmpty else { continue }
            let transitions = try redis.runBlocking(PresenceScripts.edgeRestarted, invocations: devices.map {
                .init(keys: deviceKeys($0), args: [edge, String(atMs)])
            }).map { try Transition($0.get()) }
            announcements += announce(Array(zip(devices, transitions))).compactMap { $0 }
            let dropped = zip(devices, transitions).filter { $1.extra == "drop" }.map(\.0)
            if !dropped.isEmpty { _ = try redis.sendBlocking(["SREM", onKey(edge)] + dropped, key: onKey(edge)) }
        } while cursor != "0"
        _ = try forgetEdgeIfEmpty(edge)
        return announcements
    }

    /// Takes `edge` out of the set of edges once it has no device left; returns how many it has.
    private func forgetEdgeIfEmpty(_ edge: String) throws -> Int64 {
        let left = try redis.sendBlocking(["SCARD", onKey(edge)], key: onKey(edge)).int ?? 0
        if left == 0 { _ = try redis.sendBlocking(["SREM", edgesKey, edge], key: edgesKey) }
        return left
    }

    /// What a device transition script answered (``PresenceScripts``).
    private struct Transition {
        var notify: Bool
        var entry: [RedisValue]
        var watchers: [String]
        var rooms: [String]
        var extra: String

        init(_ reply: RedisValue) throws {
            guard let fields = reply.array, fields.count == 5, let notify = fields[0].int else {
                throw RedisError(message: "unexpected reply from a presence script: \(reply)", isConnectionError: false)
            }
            self.notify = notify == 1
            entry = fields[1].array ?? []
            watchers = (fields[2].array ?? []).compactMap(\.string)
            rooms = (fields[3].array ?? []).compactMap(\.string)
            extra = fields[4].string ?? ""
        }
    }

    /// Each transition's announcement (nil when it announces nothing): the device's live watchers (itself excluded,
    /// each once), who get a downstream `change` each, and its live rooms, whose topics get one record each. Rooms'
    /// members are not read: they get the change from the room's topic, whatever their number.
    private func announce(_ transitions: [(device: String, transition: Transition)]) -> [Announcement?] {
        transitions.map { device, transition in
            guard transition.notify else { return nil }
            var seen: Set<String> = [device]
            return Announcement(entry: PresenceEntry(device: device, fields: transition.entry),
                                recipients: transition.watchers.filter { seen.insert($0).inserted }, rooms: transition.rooms)
        }
    }

    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
