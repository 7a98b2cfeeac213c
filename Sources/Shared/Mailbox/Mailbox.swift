import Infrastructure
import NIOCore
// Redis schema of the store-and-forward mailbox (key names in RedisKeys; full text in docs/redis-schema.md, "Mailbox"):
//
// <prefix>:mbox:{<device>}   zset  member = message id, score = seq: the device's entries in store order.
// <prefix>:mbox-e:{<device>} hash  message id → stored value, "<expiresAtMs> <service bytes> <content type bytes>\n"
//                                  followed by service, content type and payload (raw bytes).
// <prefix>:mbox-m:{<device>} hash  seq    the last seq handed out (decimal)
//                                  bytes  payload bytes of the entries now stored (decimal)
//                                  until  the latest expiry of any entry stored so far, unix ms (decimal)
//                                  ttl-at when the three device keys expire, unix ms (decimal)
//                            The three device keys expire together at `until` + key grace (default 1 h), rounded up
//                            to a whole minute and moved only when a store passes it, so an abandoned mailbox
//                            disappears on its own.
// <prefix>:mbox-expiry       zset  member = "<device byte count>:<device><id>", score = expiresAtMs: every entry of
//                                  every device, for the sweeper. No TTL; members whose entry vanished are dropped
//                                  when swept.
//
// A device's keys share its hash tag, so the store (with the route lookup) and ack scripts touch one slot, as Redis
// Cluster requires; the expiry index is written by a command of its own in the same pipeline. The read and sweep
// scripts still touch the index and (sweep) keys derived from index members, and the client speaks to one server,
// so the mailbox still assumes a single Redis primary.

/// Bounds of one device's mailbox. `maxBytes` counts payload bytes only; the per-entry overhead (id, service,
/// content type, a short header) is bounded through `maxCount`.
public struct MailboxLimits: Sendable {
    public var maxCount: Int = 1000
    public var maxBytes: Int = 1 << 20

    public init(maxCount: Int = 1000, maxBytes: Int = 1 << 20) {
        self.maxCount = maxCount
        self.maxBytes = maxBytes
    }
}

/// What storing one message did.
public enum StoreResult: Sendable, Equatable {
    case stored(seq: Int64)
    /// An entry with this id is already there (a redelivered Kafka record): nothing written.
    case duplicate(seq: Int64)
    /// Over maxCount or maxBytes: rejected (overflow policy: reject newest), nothing written.
    case full
    /// expiresAtMs <= now (Redis server clock): not stored.
    case expired
}

/// Each device's store-and-forward mailbox in Redis (schema above).
///
/// Guarantees: every operation is atomic per device; seqs of a device only grow, in store order, even after its
/// mailbox emptied and expired (as long as the Redis server clock does not go backwards); storing is idempotent
/// by message id while the entry is in the mailbox; an expired entry is removed by exactly one `read` or sweep,
/// which returns it for reporting, and is never returned as live.
public final class Mailbox: Sendable {
    public let redis: RedisClient
    public let prefix: String
    public let limits: MailboxLimits
    /// How long a device's keys outlive the latest expiry of its entries.
    public let keyGrace: Duration

    public init(redis: RedisClient, prefix: String, limits: MailboxLimits = MailboxLimits(),
                keyGrace: Duration = .seconds(3600)) {
        self.redis = redis
        self.prefix = prefix
        self.limits = limits
        self.keyGrace = keyGrace
    }

    var names: RedisKeys { RedisKeys(prefix: prefix) }
    func zsetKey(_ device: String) -> String { names.mailbox(device) }
    func entriesKey(_ device: String) -> String { names.mailboxEntries(device) }
    func metaKey(_ device: String) -> String { names.mailboxMeta(device) }
    var indexKey: String { names.expiryIndex }

    /// How many messages wait in all mailboxes together (stored, not yet acked or expired): the size of the expiry
    /// index, which holds one member per entry.
    public func totalEntries() async throws -> Int {
        guard case .integer(let count) = try await redis.send(["ZCARD", indexKey]) else {
            throw RedisError.reply("ZCARD \(indexKey) did not answer an integer")
        }
        return Int(count)
    }

    /// The expiry index member of an entry: `<device byte count>:<device><id>`, unambiguous whatever bytes the
    /// device and id hold.
    static func indexMember(device: String, id: String) -> String { memberPrefix(device) + id }
    static func memberPrefix(_ device: String) -> String { "\(device.utf8.count):\(device)" }

    /// The read script's keys: the device's three and the expiry index.
    private func keys(_ device: String) -> [String] { [zsetKey(device), entriesKey(device), metaKey(device), indexKey] }

    /// What storing one message did, and the device's route as it was at that moment (nil: no route).
    public struct Stored: Sendable, Equatable {
        public var result: StoreResult
        public var route: DeviceRoute?
    }

    /// Stores many entries (their `seq` is ignored and assigned) and reads each device's route in the same script
    /// call, in one pipeline, in order; for the router's own thread. Each call touches one device's keys; the expiry
    /// index gets its member by a command of its own right behind it. Order per device is the order given. Results
    /// are in `items` order; throws the first failure if any call failed (storing again is safe: it is idempotent by
    /// id). Expiries past `MailboxEntry.maxExpiresAtMs` are stored as that.
    public func storeAndRouteBlocking(_ items: [(device: String, entry: MailboxEntry)],
                                      timeout: Duration = .seconds(5)) throws -> [Stored] {
        guard !items.isEmpty else { return [] }
        let maxCount = Array(String(limits.maxCount).utf8), maxBytes = Array(String(limits.maxBytes).utf8)
        let grace = Array(String(keyGrace.redisMilliseconds).utf8)
        var calls: [RedisScript.ByteInvocation] = []
        var indexAdds: [[[[UInt8]]]] = []
        calls.reserveCapacity(items.count)
        indexAdds.reserveCapacity(items.count)
        let index = Array(indexKey.utf8)
        for (device, entry) in items {
            var stored = entry
            stored.expiresAtMs = min(entry.expiresAtMs, MailboxEntry.maxExpiresAtMs)
            let expires = Array(String(stored.expiresAtMs).utf8)
            calls.append(RedisScript.ByteInvocation(
                keys: [zsetKey(device), entriesKey(device), metaKey(device), names.route(device)].map { Array($0.utf8) },
                args: [Array(entry.id.utf8), expires, stored.storedValue, Array(String(entry.payload.count).utf8),
                       maxCount, maxBytes, grace]))
            // Added before the script's answer is known, to keep the store to one round trip: a duplicate's member is
            // already there, and a refused entry's is taken back below.
            indexAdds.append([[Array("ZADD".utf8), index, expires, Array(Self.indexMember(device: device, id: entry.id).utf8)]])
        }
        let replies = try redis.runBlocking(MailboxScripts.store, byteInvocations: calls, alongside: indexAdds,
                                            timeout: timeout)
        let stored = try replies.map { reply in
            for added in reply.alongside { _ = try added.get() }
            return try Self.stored(from: reply.script.get())
        }
        // Refused entries (expired, full: rare) take back the index member added for them, in a second round trip.
        let refused = items.indices.filter { stored[$0].result == .full || stored[$0].result == .expired }
        if !refused.isEmpty {
            for reply in try redis.pipelineBlocking(bytes: refused.map {
                [Array("ZREM".utf8), index, Array(Self.indexMember(device: items[$0].device, id: items[$0].entry.id).utf8)]
            }, timeout: timeout) { _ = try reply.get() }
        }
        return stored
    }

    /// `storeAndRouteBlocking` without the routes.
    public func storeBlocking(_ items: [(device: String, entry: MailboxEntry)], timeout: Duration = .seconds(5)) throws -> [StoreResult] {
        try storeAndRouteBlocking(items, timeout: timeout).map(\.result)
    }

    private static func stored(from reply: RedisValue) throws -> Stored {
        let fields = reply.array ?? []
        let route = fields.count >= 6 ? DeviceRoute(fields: fields[2...]) : nil
        return Stored(result: try storeResult(from: reply), route: route)
    }

    private static func storeResult(from reply: RedisValue) throws -> StoreResult {
        let fields = reply.array ?? []
        switch (fields.first?.string, fields.count > 1 ? fields[1].int : nil) {
        case ("stored", let seq?): return .stored(seq: seq)
        case ("duplicate", let seq?): return .duplicate(seq: seq)
        case ("full", _): return .full
        case ("expired", _): return .expired
        default: throw RedisError.reply("unexpected reply to the mailbox store script: \(reply)")
        }
    }

    /// Oldest first, entries with seq > `after`, at most `limit`. Entries already expired are removed by the same
    /// script and returned separately (so the caller can count / report them), never in `entries`; they do not count
    /// towards `limit`. Fewer than `limit` entries means none newer were left; to page on, pass the highest seq seen
    /// in either list.
    public func read(device: String, after seq: Int64, limit: Int) async throws -> (entries: [MailboxEntry], expired: [MailboxEntry]) {
        guard limit > 0 else { return ([], []) }
        return try Self.readResult(await redis.run(MailboxScripts.read, keys: keys(device), args: readArgs(device, seq, limit)))
    }

    /// ``read(device:after:limit:)`` for an event loop: the future, on `eventLoop`, is completed from the Redis thread.
    public func read(device: String, after seq: Int64, limit: Int,
                     on eventLoop: any EventLoop) -> EventLoopFuture<(entries: [MailboxEntry], expired: [MailboxEntry])> {
        guard limit > 0 else { return eventLoop.makeSucceededFuture(([], [])) }
        return redis.run(MailboxScripts.read, keys: keys(device), args: readArgs(device, seq, limit), on: eventLoop)
            .flatMapThrowing(Self.readResult)
    }

    private func readArgs(_ device: String, _ seq: Int64, _ limit: Int) -> [String] {
        [String(seq), String(limit), Self.memberPrefix(device)]
    }

    private static func readResult(_ reply: RedisValue) throws -> (entries: [MailboxEntry], expired: [MailboxEntry]) {
        guard let lists = reply.array, lists.count == 2, let live = lists[0].array, let expired = lists[1].array else {
            throw RedisError.reply("unexpected reply to the mailbox read script: \(reply)")
        }
        return (entries(live), entries(expired))
    }

    /// Reads a flat id, seq, stored value list; malformed values are skipped (the scripts treat them as expired).
    private static func entries(_ flat: [RedisValue]) -> [MailboxEntry] {
        stride(from: 0, to: flat.count - 2, by: 3).compactMap { i in
            guard let id = flat[i].string, let seq = flat[i + 1].int, let value = flat[i + 2].bytes else { return nil }
            return MailboxEntry(seq: seq, id: id, storedValue: value)
        }
    }

    /// Deletes the entry with this id (the device acked it). Returns whether it was there. Idempotent.
    public func ack(device: String, id: String) async throws -> Bool {
        try await ack([(device, id)]) == 1
    }

    /// Deletes many acked entries at once, for batching acks. Returns how many were there; throws the first failure
    /// if any call failed.
    public func ack(device: String, ids: [String]) async throws -> Int {
        try await ack(ids.map { (device, $0) })
    }

    /// Deletes acked entries of any devices in one pipeline: per entry one script call on its device's keys and the
    /// removal of its expiry index member. Returns how many were there; throws the first failure.
    public func ack(_ acks: [(device: String, id: String)]) async throws -> Int {
        guard !acks.isEmpty else { return 0 }
        let index = Array(indexKey.utf8)
        let calls = acks.map { device, id in
            RedisScript.ByteInvocation(keys: [zsetKey(device), entriesKey(device), metaKey(device)].map { Array($0.utf8) },
                                       args: [Array(id.utf8)])
        }
        let indexRemovals = acks.map { device, id in
            [[Array("ZREM".utf8), index, Array(Self.indexMember(device: device, id: id).utf8)]]
        }
        var deleted = 0
        for reply in await redis.run(MailboxScripts.ack, byteInvocations: calls, alongside: indexRemovals) {
            deleted += try reply.script.get().int == 1 ? 1 : 0
        }
        return deleted
    }

    /// How many entries the device's mailbox holds and their payload bytes (expired ones not yet removed included).
    public func depth(device: String) async throws -> (count: Int, bytes: Int) {
        let reply = try await redis.run(MailboxScripts.depth, keys: [zsetKey(device), metaKey(device)], args: [])
        guard let fields = reply.array, fields.count == 2, let count = fields[0].int, let bytes = fields[1].int else {
            throw RedisError.reply("unexpected reply to the mailbox depth script: \(reply)")
        }
        return (Int(count), Int(bytes))
    }

    /// Removes up to `limit` expired entries across ALL devices (those whose expiresAtMs <= now), atomically, so that
    /// two routers running it concurrently never both return the same entry. Returns (device, entry) pairs, for
    /// expiry reports, most overdue first. Fewer than `limit` results means nothing more was due, unless the script
    /// met more than 3 × `limit` index members whose entry was already gone (acked, or its device's keys expired),
    /// which it drops without a result. For a router's own thread.
    public func sweepExpiredBlocking(limit: Int = 500, timeout: Duration = .seconds(5)) throws -> [(device: String, entry: MailboxEntry)] {
        guard limit > 0 else { return [] }
        let reply = try redis.runBlocking(MailboxScripts.sweep, keys: [indexKey],
                                          args: [names.mailboxPrefix, names.mailboxEntriesPrefix, names.mailboxMetaPrefix, String(limit)],
                                          timeout: timeout)
        guard let flat = reply.array else {
            throw RedisError.reply("unexpected reply to the mailbox sweep script: \(reply)")
        }
        return stride(from: 0, to: flat.count - 3, by: 4).compactMap { i in
            guard let device = flat[i].string, let id = flat[i + 1].string, let seq = flat[i + 2].int,
                  let value = flat[i + 3].bytes, let entry = MailboxEntry(seq: seq, id: id, storedValue: value) else { return nil }
            return (device, entry)
        }
    }
}
