import Infrastructure

/// One entry of a mailbox as the operator sees it: everything but the payload.
public struct MailboxListing: Sendable, Equatable {
    public var id: String
    public var seq: Int64
    public var service: String
    public var contentType: String
    /// The payload's size in bytes.
    public var bytes: Int
    /// When it expires, Unix ms.
    public var expiresAtMs: Int64
    /// It asked for a receipt.
    public var receipt: Bool

    public init(id: String, seq: Int64, service: String, contentType: String, bytes: Int, expiresAtMs: Int64,
                receipt: Bool = false) {
        self.id = id
        self.seq = seq
        self.service = service
        self.contentType = contentType
        self.bytes = bytes
        self.expiresAtMs = expiresAtMs
        self.receipt = receipt
    }
}

/// One page of ``Mailbox/list(device:after:limit:)``.
public struct MailboxPage: Sendable, Equatable {
    /// Oldest first.
    public var entries: [MailboxListing]
    /// The seq to pass as `after` for the next page; nil when no live entry follows this page.
    public var nextAfter: Int64?
}

/// What ``Mailbox/summary(device:)`` tells about one mailbox.
public struct MailboxSummary: Sendable, Equatable {
    /// Entries stored, expired ones not removed yet included (as ``Mailbox/depth(device:)``).
    public var count: Int
    /// Their payload bytes.
    public var bytes: Int
    /// The oldest entry that has not expired; nil when there is none.
    public var oldest: MailboxListing?
}

extension Mailbox {
    /// The most entries one ``list(device:after:limit:)`` page holds.
    public static let maxListLimit = 1000

    /// Entries with seq > `after`, oldest first, at most `limit` (capped at ``maxListLimit``; 0 or less gives an
    /// empty page), without their payloads. Reads only: nothing is removed or marked, and entries that have expired
    /// but are not swept yet are left out (they will never be delivered). One script call.
    public func list(device: String, after: Int64, limit: Int) async throws -> MailboxPage {
        guard limit > 0 else { return MailboxPage(entries: [], nextAfter: nil) }
        let reply = try await redis.run(MailboxScripts.list, keys: [zsetKey(device), entriesKey(device)],
                                        args: [String(after), String(min(limit, Self.maxListLimit))])
        guard let parts = reply.array, parts.count == 2, let flat = parts[0].array, let more = parts[1].int else {
            throw RedisError.reply("unexpected reply to the mailbox list script: \(reply)")
        }
        let entries = try Self.listings(flat)
        return MailboxPage(entries: entries, nextAfter: more == 1 ? entries.last?.seq : nil)
    }

    /// Count and bytes of the device's mailbox and its oldest live entry, in one script call.
    public func summary(device: String) async throws -> MailboxSummary {
        let reply = try await redis.run(MailboxScripts.summary, keys: [zsetKey(device), entriesKey(device), metaKey(device)], args: [])
        guard let parts = reply.array, parts.count == 3, let count = parts[0].int, let bytes = parts[1].int,
              let oldest = parts[2].array else {
            throw RedisError.reply("unexpected reply to the mailbox summary script: \(reply)")
        }
        return MailboxSummary(count: Int(count), bytes: Int(bytes), oldest: try Self.listings(oldest).first)
    }

    /// Removes the entry `id` of `device`, expired or not, and marks its receipt `deleted` (if it asked for one and
    /// had not reached a final state). Returns whether it was there.
    public func delete(device: String, id: String) async throws -> Bool {
        let index = indexKey(device)
        let replies = await redis.run(
            MailboxScripts.delete,
            byteInvocations: [RedisScript.ByteInvocation(
                keys: [zsetKey(device), entriesKey(device), metaKey(device), names.receipt(device: device, id: id)].map { Array($0.utf8) },
                args: [Array(id.utf8)])],
            alongside: [RedisCommand(["ZREM", index, Self.indexMember(device: device, id: id)], key: index)])
        return try replies.scripts[0].get().int == 1
    }

    /// Removes every entry of `device` and marks their receipts `deleted`; the seq counter stays, so later entries
    /// still get higher seqs. Returns how many entries there were (expired ones not swept yet included).
    public func deleteAll(device: String) async throws -> Int {
        let reply = try await redis.run(MailboxScripts.deleteAll, keys: [zsetKey(device), entriesKey(device), metaKey(device)],
                                        args: [names.receiptPrefix(device)])
        guard let parts = reply.array, parts.count == 2, let count = parts[0].int, let ids = parts[1].array else {
            throw RedisError.reply("unexpected reply to the mailbox delete script: \(reply)")
        }
        // All of a device's index members are in one shard: one command. A removal that fails leaves members the
        // sweep drops later (their entries are gone).
        let members = ids.compactMap(\.string).map { Self.indexMember(device: device, id: $0) }
        if !members.isEmpty {
            let index = indexKey(device)
            _ = await redis.pipeline([RedisCommand(["ZREM", index] + members, key: index)])
        }
        return Int(count)
    }

    /// Reads a flat id, seq, head, payload bytes list (the `browse` helper's).
    private static func listings(_ flat: [RedisValue]) throws -> [MailboxListing] {
        try stride(from: 0, to: flat.count - 3, by: 4).map { i in
            guard let id = flat[i].string, let seq = flat[i + 1].int, let head = flat[i + 2].bytes, let size = flat[i + 3].int,
                  let entry = MailboxEntry(seq: seq, id: id, storedValue: head) else {
                throw RedisError.reply("malformed mailbox entry in a list reply")
            }
            return MailboxListing(id: id, seq: seq, service: entry.service, contentType: entry.contentType,
                                  bytes: Int(size), expiresAtMs: entry.expiresAtMs, receipt: entry.receipt)
        }
    }
}
