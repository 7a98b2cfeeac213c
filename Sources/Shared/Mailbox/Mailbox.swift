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
// <prefix>:mbox-expiry:{e<n>} zset member = "<device byte count>:<device><id>", score = expiresAtMs: every entry of
//                                  the devices whose slot falls in shard n's sixteenth of the slots, for the sweeper
//                                  (RedisKeys.expiryIndex). No TTL; members whose entry vanished are dropped when swept.
//
// Each script touches one slot, as Redis Cluster requires: a device's keys (one hash tag), or one index shard. The
// index is written by commands of their own, sent beside the device's scripts; the sweep reads the shards, then expires
// entries device by device, so each expired entry is removed (and reported) by exactly one call.

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
///
/// Stores are confirmed: with `redis.durability` asking for replicas, a store returns only once that many replicas of
/// every primary written to hold it (`WAIT`), and throws otherwise, so the router never commits what a failover could
/// lose.
public final class Mailbox: Sendable {
    public let redis: any RedisKeyspace
    public let prefix: String
    public let limits: MailboxLimits
    /// How long a device's keys outlive the latest expiry of its entries.
    public let keyGrace: Duration

    public init(redis: any RedisKeyspace, prefix: String, limits: MailboxLimits = MailboxLimits(),
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
    func indexKey(_ device: String) -> String { names.expiryIndex(device: device) }

    /// How many messages wait in all mailboxes together (stored, not yet acked or expired): the size of the expiry
    /// index, which holds one member per entry.
    public func totalEntries() async throws -> Int {
        var total = 0
        for (shard, reply) in zip(names.expiryIndexShards, await redis.pipeline(names.expiryIndexShards.map { RedisCommand(["ZCARD", $0], key: $0) })) {
            guard case .integer(let count) = try reply.get() else {
                throw RedisError.reply("ZCARD \(shard) did not answer an integer")
            }
            total += Int(count)
        }
        return total
    }

    /// The expiry index member of an entry: `<device byte count>:<device><id>`, unambiguous whatever bytes the
    /// device and id hold.
    static func indexMember(device: String, id: String) -> String { memberPrefix(device) + id }
    static func memberPrefix(_ device: String) -> String { "\(device.utf8.count):\(device)" }

    /// The read script's keys: the device's three.
    private func keys(_ device: String) -> [String] { [zsetKey(device), entriesKey(device), metaKey(device)] }

    /// What storing one message did, and the device's route as it was at that moment (nil: no route).
    public struct Stored: Sendable, Equatable {
        public var result: StoreResult
        public var route: DeviceRoute?
    }

    /// Stores many entries (their `seq` is ignored and assigned) and reads each device's route in the same script
    /// call, in order; for the router's own thread. Each call touches one device's keys; the expiry index gets its
    /// member by a command of its own sent beside it. Order per device is the order given. Results are in `items`
    /// order; throws the first failure if any call failed, and throws when the replicas `redis.durability` asks for do
    /// not confirm the writes (storing again is safe: it is idempotent by id). Expiries past
    /// `MailboxEntry.maxExpiresAtMs` are stored as that.
    public func storeAndRouteBlocking(_ items: [(device: String, entry: MailboxEntry)],
                                      timeout: Duration = .seconds(5)) throws -> [Stored] {
        guard !items.isEmpty else { return [] }
        let maxCount = Array(String(limits.maxCount).utf8), maxBytes = Array(String(limits.maxBytes).utf8)
        let grace = Array(String(keyGrace.redisMilliseconds).utf8)
        var calls: [RedisScript.ByteInvocation] = []
        var indexAdds: [RedisCommand] = []
        calls.reserveCapacity(items.count)
        indexAdds.reserveCapacity(items.count)
        for (device, entry) in items {
            var stored = entry
            stored.expiresAtMs = min(entry.expiresAtMs, MailboxEntry.maxExpiresAtMs)
            let expires = Array(String(stored.expiresAtMs).utf8)
            var keys = [zsetKey(device), entriesKey(device), metaKey(device), names.route(device)]
            var args = [Array(entry.id.utf8), expires, stored.storedValue, Array(String(entry.payload.count).utf8),
                        maxCount, maxBytes, grace]
            // Only a message that asks for a receipt names its receipt key: the others cost nothing more.
            if entry.receipt {
                keys.append(names.receipt(device: device, id: entry.id))
                args.append(Array(entry.service.utf8))
            }
            calls.append(RedisScript.ByteInvocation(keys: keys.map { Array($0.utf8) }, args: args))
            // Added before the script's answer is known, to keep the store to one round trip: a duplicate's member is
            // already there, and a refused entry's is taken back below.
            let index = Array(indexKey(device).utf8)
            indexAdds.append(RedisCommand([Array("ZADD".utf8), index, expires, Array(Self.indexMember(device: device, id: entry.id).utf8)], key: index))
        }
        let replies = try redis.runBlocking(MailboxScripts.store, byteInvocations: calls, alongside: indexAdds, timeout: timeout)
        for added in replies.commands { _ = try added.get() }
        let stored = try replies.scripts.map { try Self.stored(from: $0.get()) }
        // Refused entries (expired, full: rare) take back the index member added for them, in a second round trip.
        let refused = items.indices.filter { stored[$0].result == .full || stored[$0].result == .expired }
        if !refused.isEmpty {
            for reply in try redis.pipelineBlocking(refused.map {
                let index = indexKey(items[$0].device)
                return RedisCommand(["ZREM", index, Self.indexMember(device: items[$0].device, id: items[$0].entry.id)], key: index)
            }, timeout: timeout) { _ = try reply.get() }
        }
        try redis.confirmDurableBlocking(calls.map { $0.keys[0] } + indexAdds.map(\.key))
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
    /// script (their receipts marked `expired`) and returned separately (so the caller can count / report them), never in `entries`; they do not count
    /// towards `limit`. Fewer than `limit` entries means none newer were left; to page on, pass the highest seq seen
    /// in either list.
    public func read(device: String, after seq: Int64, limit: Int) async throws -> (entries: [MailboxEntry], expired: [MailboxEntry]) {
        guard limit > 0 else { return ([], []) }
        let read = try Self.readResult(await redis.run(MailboxScripts.read, keys: keys(device), args: readArgs(device, seq, limit)))
        if !read.expired.isEmpty { _ = await redis.pipeline(indexRemovals(device, read.expired)) }
        return read
    }

    /// ``read(device:after:limit:)`` for an event loop: the future, on `eventLoop`, is completed from the Redis thread.
    public func read(device: String, after seq: Int64, limit: Int,
                     on eventLoop: any EventLoop) -> EventLoopFuture<(entries: [MailboxEntry], expired: [MailboxEntry])> {
        guard limit > 0 else { return eventLoop.makeSucceededFuture(([], [])) }
        return redis.run(MailboxScripts.read, keys: keys(device), args: readArgs(device, seq, limit), on: eventLoop)
            .flatMap { [redis] reply in
                let read: (entries: [MailboxEntry], expired: [MailboxEntry])
                do { read = try Self.readResult(reply) } catch { return eventLoop.makeFailedFuture(error) }
                guard !read.expired.isEmpty else { return eventLoop.makeSucceededFuture(read) }
                // A removal that fails leaves a member the sweep drops later; the read stands either way.
                return redis.pipeline(self.indexRemovals(device, read.expired), on: eventLoop).map { _ in read }
            }
    }

    private func readArgs(_ device: String, _ seq: Int64, _ limit: Int) -> [String] {
        [String(seq), String(limit), names.receiptPrefix(device)]
    }

    /// The commands that take `entries`' members out of the expiry index.
    private func indexRemovals(_ device: String, _ entries: [MailboxEntry]) -> [RedisCommand] {
        let index = indexKey(device)
        return entries.map { RedisCommand(["ZREM", index, Self.indexMember(device: device, id: $0.id)], key: index) }
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
        try await ackReceipts(acks).deleted
    }

    /// ``ack(_:)``, which also says which acked entries asked for a receipt and moved it to `acked` by this call
    /// (each at most once, whoever else acks it too), with the entry as it was stored (seq 0: not known), for the
    /// `acked` report.
    public func ackReceipts(_ acks: [(device: String, id: String)]) async throws
        -> (deleted: Int, acked: [(device: String, entry: MailboxEntry)]) {
        guard !acks.isEmpty else { return (0, []) }
        let calls = acks.map { device, id in
            RedisScript.ByteInvocation(keys: [zsetKey(device), entriesKey(device), metaKey(device),
                                              names.receipt(device: device, id: id)].map { Array($0.utf8) },
                                       args: [Array(id.utf8)])
        }
        let indexRemovals = acks.map { device, id in
            let index = indexKey(device)
            return RedisCommand(["ZREM", index, Self.indexMember(device: device, id: id)], key: index)
        }
        var deleted = 0
        var acked: [(device: String, entry: MailboxEntry)] = []
        for (ack, reply) in zip(acks, await redis.run(MailboxScripts.ack, byteInvocations: calls, alongside: indexRemovals).scripts) {
            switch try reply.get() {
            case .integer(let found): deleted += Int(found)
            case .bulk(let stored):
                deleted += 1
                if let entry = MailboxEntry(seq: 0, id: ack.id, storedValue: stored) { acked.append((ack.device, entry)) }
            case let other: throw RedisError.reply("unexpected reply to the mailbox ack script: \(other)")
            }
        }
        return (deleted, acked)
    }

    /// How many entries the device's mailbox holds and their payload bytes (expired ones not yet removed included).
    public func depth(device: String) async throws -> (count: Int, bytes: Int) {
        let reply = try await redis.run(MailboxScripts.depth, keys: [zsetKey(device), metaKey(device)], args: [])
        guard let fields = reply.array, fields.count == 2, let count = fields[0].int, let bytes = fields[1].int else {
            throw RedisError.reply("unexpected reply to the mailbox depth script: \(reply)")
        }
        return (Int(count), Int(bytes))
    }

    /// Removes up to `limit` expired entries across ALL devices (those whose expiresAtMs <= now), so that two routers
    /// running it concurrently never both return the same entry: each entry is deleted by one atomic call on its
    /// device's keys. Returns (device, entry) pairs, for expiry reports, most overdue first. Reads every shard of the
    /// expiry index, then expires the due entries device by device; members whose entry is gone (acked, or its
    /// device's keys expired) are dropped without a result. Fewer than `limit` results means nothing more was due, as
    /// far as this sweep could tell. Throws only when nothing could be swept. For a router's own thread.
    public func sweepExpiredBlocking(limit: Int = 500, timeout: Duration = .seconds(5)) throws -> [(device: String, entry: MailboxEntry)] {
        var swept: [(device: String, entry: MailboxEntry, expires: Int64)] = []
        var examined = 0
        // Another sweeper may take the members this one read: look again (those are gone from the index by then) until
        // enough are swept, nothing is due, or 4 × `limit` members were looked at.
        while swept.count < limit && examined < 4 * limit {
            let round: (swept: [(device: String, entry: MailboxEntry, expires: Int64)], examined: Int, error: (any Error)?)
            round = try sweepRound(limit: limit - swept.count, timeout: timeout)
            swept += round.swept
            examined += round.examined
            if let error = round.error, swept.isEmpty { throw error }
            if round.examined == 0 || round.error != nil { break }
        }
        return swept.sorted { $0.expires < $1.expires }.map { ($0.device, $0.entry) }
    }

    /// One look at the index shards and one expire call per device with due members; what was swept, how many
    /// members were looked at, and the first error met on the way.
    private func sweepRound(limit: Int, timeout: Duration) throws
        -> (swept: [(device: String, entry: MailboxEntry, expires: Int64)], examined: Int, error: (any Error)?) {
        let shards = names.expiryIndexShards
        let lists = try redis.runBlocking(MailboxScripts.due, byteInvocations: shards.map {
            RedisScript.ByteInvocation(keys: [Array($0.utf8)], args: [Array(String(limit).utf8)])
        }, timeout: timeout)
        var due: [(shard: String, member: String, expires: Int64)] = []
        var firstError: (any Error)?
        for (shard, list) in zip(shards, lists) {
            do {
                let flat = try list.get().array ?? []
                for i in stride(from: 0, to: flat.count - 1, by: 2) {
                    guard let member = flat[i].string else { continue }
                    due.append((shard, member, flat[i + 1].string.flatMap { Int64($0) } ?? 0))
                }
            } catch { firstError = firstError ?? error }
        }
        due.sort { $0.expires < $1.expires }
        let taken = due.prefix(limit)
        // Per device, its due ids in expiry order; a member that names no device is simply dropped.
        var devices: [String] = []
        var ids: [String: [(shard: String, member: String, id: String)]] = [:]
        var fixes: [RedisCommand] = []
        for (shard, member, _) in taken {
            guard let (device, id) = Self.parseIndexMember(member) else {
                fixes.append(RedisCommand(["ZREM", shard, member], key: shard))
                continue
            }
            if ids[device] == nil { devices.append(device) }
            ids[device, default: []].append((shard, member, id))
        }
        let replies = try redis.runBlocking(MailboxScripts.expire, byteInvocations: devices.map { device in
            RedisScript.ByteInvocation(keys: [zsetKey(device), entriesKey(device), metaKey(device)].map { Array($0.utf8) },
                                       args: [Array(names.receiptPrefix(device).utf8)] + ids[device]!.map { Array($0.id.utf8) })
        }, timeout: timeout)
        var swept: [(device: String, entry: MailboxEntry, expires: Int64)] = []
        for (device, reply) in zip(devices, replies) {
            let flat: [RedisValue]
            do { flat = try reply.get().array ?? [] } catch { firstError = firstError ?? error; continue }
            for (position, due) in ids[device]!.enumerated() where 3 * position + 2 < flat.count {
                switch flat[3 * position].string {
                case "removed":
                    fixes.append(RedisCommand(["ZREM", due.shard, due.member], key: due.shard))
                    guard let seq = flat[3 * position + 1].int, let value = flat[3 * position + 2].bytes,
                          let entry = MailboxEntry(seq: seq, id: due.id, storedValue: value) else { continue }
                    swept.append((device, entry, entry.expiresAtMs))
                case "later":
                    // The index was out of step with the entry: put the member back at the entry's real expiry.
                    let expires = flat[3 * position + 1].string ?? "0"
                    fixes.append(RedisCommand(["ZADD", due.shard, expires, due.member], key: due.shard))
                default:
                    fixes.append(RedisCommand(["ZREM", due.shard, due.member], key: due.shard))
                }
            }
        }
        // A fix that fails leaves a member the next sweep looks at again.
        _ = try? redis.pipelineBlocking(fixes, timeout: timeout)
        return (swept, taken.count, firstError)
    }

    /// The device and id an expiry index member names, or nil for a malformed member.
    static func parseIndexMember(_ member: String) -> (device: String, id: String)? {
        let bytes = Array(member.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), let length = Int(String(decoding: bytes[..<colon], as: UTF8.self)),
              length >= 0, colon + 1 + length <= bytes.count else { return nil }
        let device = bytes[(colon + 1)..<(colon + 1 + length)], id = bytes[(colon + 1 + length)...]
        return (String(decoding: device, as: UTF8.self), String(decoding: id, as: UTF8.self))
    }
}
