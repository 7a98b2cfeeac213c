import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import NIOCore
import NIOPosix
import Testing
@testable import Shared

@Suite("Mailbox")
struct MailboxTests {
    /// Runs `body` with a mailbox on a fresh redis-server, stopped afterwards.
    private func withMailbox(limits: MailboxLimits = MailboxLimits(), keyGrace: Duration = .seconds(3600),
                             _ body: (Mailbox, RedisTestServer) async throws -> Void) async throws {
        let redis = try await offload { try RedisTestServer.start() }
        defer { redis.stop() }
        try await body(Mailbox(redis: redis.client, prefix: "t", limits: limits, keyGrace: keyGrace), redis)
    }

    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private static func entry(_ id: String, _ payload: [UInt8] = Array("hello".utf8), expiresInMs: Int64 = 60_000,
                              service: String = "echo", contentType: String = "text/plain") -> MailboxEntry {
        MailboxEntry(seq: 0, id: id, service: service, contentType: contentType,
                     expiresAtMs: nowMs() + expiresInMs, payload: payload)
    }

    private func store(_ mailbox: Mailbox, _ items: [(device: String, entry: MailboxEntry)]) async throws -> [StoreResult] {
        try await offload { try mailbox.storeBlocking(items) }
    }

    private func store(_ mailbox: Mailbox, _ device: String, _ entries: [MailboxEntry]) async throws -> [StoreResult] {
        try await store(mailbox, entries.map { (device: device, entry: $0) })
    }

    private static func seq(_ result: StoreResult) -> Int64? {
        if case .stored(let seq) = result { return seq }
        return nil
    }

    /// `entry` as the mailbox gives it back: with its assigned seq.
    private static func stored(_ entry: MailboxEntry, _ result: StoreResult) -> MailboxEntry {
        var entry = entry
        entry.seq = seq(result) ?? -1
        return entry
    }

    /// The expiry index shard that holds `device`'s entries (prefix "t").
    static func index(_ device: String) -> String { RedisKeys(prefix: "t").expiryIndex(device: device) }

    @Test func storeAssignsIncreasingSeqsAndReadPagesOldestFirst() async throws {
        try await withMailbox { mailbox, redis in
            let entries = (1...5).map { Self.entry("m\($0)", Array("payload \($0)".utf8)) }
            let results = try await store(mailbox, "d", entries)
            let seqs = results.compactMap(Self.seq)
            #expect(seqs.count == 5)
            #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 })
            #expect(seqs[0] > 1_700_000_000_000_000)  // a new device's counter starts at the server clock in ms × 1000
            let expected = zip(entries, results).map { Self.stored($0, $1) }

            let first = try await mailbox.read(device: "d", after: 0, limit: 2)
            #expect(first.entries == Array(expected[0..<2]) && first.expired.isEmpty)
            let second = try await mailbox.read(device: "d", after: seqs[1], limit: 2)
            #expect(second.entries == Array(expected[2..<4]))
            let third = try await mailbox.read(device: "d", after: seqs[3], limit: 2)
            #expect(third.entries == [expected[4]])
            #expect(try await mailbox.read(device: "d", after: seqs[4], limit: 2).entries.isEmpty)
            #expect(try await mailbox.read(device: "d", after: 0, limit: 100).entries == expected)
            #expect(try await mailbox.read(device: "d", after: 0, limit: 0).entries.isEmpty)
            #expect(try await mailbox.read(device: "nobody", after: 0, limit: 10).entries.isEmpty)

            // The documented schema: zset of ids by seq, entries hash, meta hash, expiry index; TTL past the latest expiry.
            let client = redis.client
            #expect(try await client.send(["ZSCORE", "t:mbox:{d}", "m3"]).int == seqs[2])
            #expect(try await client.send(["HLEN", "t:mbox-e:{d}"]) == .integer(5))
            #expect(try await client.send(["HGET", "t:mbox-m:{d}", "seq"]).int == seqs[4])
            #expect(try await client.send(["HGET", "t:mbox-m:{d}", "bytes"]).int == Int64(entries.reduce(0) { $0 + $1.payload.count }))
            #expect(try await client.send(["HGET", "t:mbox-m:{d}", "until"]).int == entries.map(\.expiresAtMs).max())
            #expect(try await client.send(["ZSCORE", Self.index("d"), "1:dm2"]).int == entries[1].expiresAtMs)
            for key in ["t:mbox:{d}", "t:mbox-e:{d}", "t:mbox-m:{d}"] {
                let ttl = try #require(try await client.send(["PTTL", key]).int)
                #expect(ttl > 3_600_000 + 55_000 && ttl <= 3_600_000 + 120_000)
            }
            #expect(try await client.send(["PTTL", Self.index("d")]) == .integer(-1))
        }
    }

    @Test func aDuplicateIdIsNotStoredTwiceAndKeepsItsSeq() async throws {
        try await withMailbox { mailbox, _ in
            let original = Self.entry("same", Array("first".utf8))
            let results = try await store(mailbox, "d", [original, Self.entry("other"), Self.entry("same", Array("second!".utf8))])
            let seq = try #require(Self.seq(results[0]))
            #expect(results[2] == .duplicate(seq: seq))
            #expect(try await store(mailbox, "d", [Self.entry("same", Array("third".utf8))]) == [.duplicate(seq: seq)])
            let read = try await mailbox.read(device: "d", after: 0, limit: 10)
            #expect(read.entries.map(\.id) == ["same", "other"])
            #expect(read.entries[0] == Self.stored(original, results[0]))
            #expect(try await mailbox.depth(device: "d") == (2, 10))
            // The same id for another device is another message.
            #expect(Self.seq(try await store(mailbox, "e", [original])[0]) != nil)
        }
    }

    @Test func overflowingCountOrBytesIsRejectedAndWritesNothing() async throws {
        try await withMailbox(limits: MailboxLimits(maxCount: 3, maxBytes: 10)) { mailbox, redis in
            let four = [UInt8](repeating: 1, count: 4)
            let results = try await store(mailbox, "d", [Self.entry("a", four), Self.entry("b", four), Self.entry("c", [9, 9, 9])])
            #expect(results.map { Self.seq($0) != nil } == [true, true, false])
            #expect(results[2] == .full)  // 8 + 3 bytes > 10
            #expect(try await mailbox.depth(device: "d") == (2, 8))
            #expect(try await store(mailbox, "d", [Self.entry("c", [9, 9])]).map { Self.seq($0) != nil } == [true])
            #expect(try await mailbox.depth(device: "d") == (3, 10))
            #expect(try await store(mailbox, "d", [Self.entry("d", [])]) == [.full])  // count 3 + 1 > 3
            #expect(try await mailbox.depth(device: "d") == (3, 10))
            #expect(try await redis.client.send(["HEXISTS", "t:mbox-e:{d}", "d"]) == .integer(0))
            #expect(try await mailbox.totalEntries() == 3)
            // A single payload over maxBytes never fits.
            #expect(try await store(mailbox, "e", [Self.entry("big", [UInt8](repeating: 0, count: 11))]) == [.full])
            #expect(try await redis.client.send(["EXISTS", "t:mbox:{e}", "t:mbox-e:{e}", "t:mbox-m:{e}"]) == .integer(0))
            // An ack makes room again.
            #expect(try await mailbox.ack(device: "d", id: "a"))
            #expect(Self.seq(try await store(mailbox, "d", [Self.entry("d", four)])[0]) != nil)
        }
    }

    @Test func anAlreadyExpiredEntryIsNotStored() async throws {
        try await withMailbox { mailbox, redis in
            #expect(try await store(mailbox, "d", [Self.entry("old", expiresInMs: -1), Self.entry("older", expiresInMs: -60_000)])
                == [.expired, .expired])
            #expect(try await redis.client.send(["EXISTS", "t:mbox:{d}", "t:mbox-e:{d}", "t:mbox-m:{d}", Self.index("d")]) == .integer(0))
            // Expiry past year 9999 is clamped, not an error.
            var forever = Self.entry("forever")
            forever.expiresAtMs = .max
            let result = try await store(mailbox, "d", [forever])[0]
            #expect(Self.seq(result) != nil)
            #expect(try await mailbox.read(device: "d", after: 0, limit: 1).entries.first?.expiresAtMs == MailboxEntry.maxExpiresAtMs)
        }
    }

    @Test func readRemovesExpiredEntriesAndReturnsThemSeparately() async throws {
        try await withMailbox { mailbox, redis in
            let entries = [Self.entry("short1", [1, 2, 3], expiresInMs: 700), Self.entry("long1", [4]),
                           Self.entry("short2", [5, 6], expiresInMs: 700), Self.entry("long2", [7])]
            let results = try await store(mailbox, "d", entries)
            let expected = zip(entries, results).map { Self.stored($0, $1) }
            #expect(try await mailbox.depth(device: "d") == (4, 7))
            try await Task.sleep(for: .milliseconds(900))

            // Expired entries met on the way do not use up the limit.
            let first = try await mailbox.read(device: "d", after: 0, limit: 1)
            #expect(first.entries == [expected[1]])
            #expect(first.expired == [expected[0]])
            let second = try await mailbox.read(device: "d", after: expected[1].seq, limit: 5)
            #expect(second.entries == [expected[3]])
            #expect(second.expired == [expected[2]])
            // Gone for good: from the mailbox, its byte count and the expiry index.
            #expect(try await mailbox.read(device: "d", after: 0, limit: 5) == ([expected[1], expected[3]], []))
            #expect(try await mailbox.depth(device: "d") == (2, 2))
            #expect(try await mailbox.totalEntries() == 2)
            #expect(try await offload { try mailbox.sweepExpiredBlocking() }.isEmpty)
        }
    }

    @Test func readOnAnEventLoopGivesWhatTheAsyncReadGivesThere() async throws {
        try await withMailbox { mailbox, _ in
            let entries = [Self.entry("a", [1]), Self.entry("b", [2]), Self.entry("c", [3])]
            let results = try await store(mailbox, "d", entries)
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let read = try await mailbox.read(device: "d", after: 0, limit: 2, on: loop).map { ($0, loop.inEventLoop) }.get()
            #expect(read.1, "completed on the loop")
            let async = try await mailbox.read(device: "d", after: 0, limit: 2)
            #expect(read.0.entries == async.entries && read.0.expired == async.expired)
            #expect(read.0.entries == zip(entries, results).prefix(2).map { Self.stored($0, $1) })
            #expect(try await mailbox.read(device: "d", after: 0, limit: 0, on: loop).get() == ([], []))
        }
    }

    @Test func ackDeletesFreesBytesAndIsIdempotent() async throws {
        try await withMailbox { mailbox, redis in
            _ = try await store(mailbox, "d", [Self.entry("a", [1, 2, 3]), Self.entry("b", [4, 5])])
            #expect(try await mailbox.depth(device: "d") == (2, 5))
            #expect(try await mailbox.ack(device: "d", id: "a"))
            #expect(try await mailbox.depth(device: "d") == (1, 2))
            #expect(try await mailbox.ack(device: "d", id: "a") == false)
            #expect(try await mailbox.ack(device: "other", id: "b") == false)
            #expect(try await mailbox.read(device: "d", after: 0, limit: 10).entries.map(\.id) == ["b"])
            #expect(try await redis.client.send(["ZRANGE", Self.index("d"), "0", "-1"]).array?.map(\.string) == ["1:db"])
            #expect(try await mailbox.ack(device: "d", id: "b"))
            #expect(try await mailbox.depth(device: "d") == (0, 0))
            // Empty: the zset and entries hash are gone, the meta hash keeps the seq counter.
            #expect(try await redis.client.send(["EXISTS", "t:mbox:{d}", "t:mbox-e:{d}", Self.index("d")]) == .integer(0))
            #expect(try await redis.client.send(["HGET", "t:mbox-m:{d}", "bytes"]).int == 0)
            #expect(try await mailbox.depth(device: "never") == (0, 0))
        }
    }

    @Test func batchAck() async throws {
        try await withMailbox { mailbox, _ in
            _ = try await store(mailbox, "d", (1...5).map { Self.entry("m\($0)", [UInt8](repeating: 7, count: $0)) })
            #expect(try await mailbox.ack(device: "d", ids: ["m1", "m3", "missing", "m5", "m3"]) == 3)
            #expect(try await mailbox.read(device: "d", after: 0, limit: 10).entries.map(\.id) == ["m2", "m4"])
            #expect(try await mailbox.depth(device: "d") == (2, 6))
            #expect(try await mailbox.ack(device: "d", ids: []) == 0)
        }
    }

    @Test func binaryPayloadsAndOddIdsRoundTrip() async throws {
        try await withMailbox { mailbox, _ in
            let payload: [UInt8] = [0, 13, 10, 0x0A, 0x20] + Array(0...255) + Array("1 2 3\n".utf8) + [0]
            let device = "dev:1@x.y"  // ':' is allowed in device ids
            let entries = [
                Self.entry("id\nwith\r\nbreaks", payload, service: "svc-1", contentType: "application/octet-stream"),
                Self.entry("12:3", [], service: "", contentType: ""),
                Self.entry("ünï cødé 💬", Array("\0".utf8)),
            ]
            let results = try await store(mailbox, device, entries)
            let expected = zip(entries, results).map { Self.stored($0, $1) }
            #expect(try await mailbox.read(device: device, after: 0, limit: 10).entries == expected)
            #expect(try await mailbox.depth(device: device) == (3, payload.count + 1))
            // A device whose id ends like a key suffix (":e", ":m") does not collide with this device's keys.
            #expect(try await mailbox.read(device: device + ":e", after: 0, limit: 10).entries.isEmpty)
            #expect(try await mailbox.depth(device: device + ":m") == (0, 0))
            #expect(try await mailbox.ack(device: device, id: "id\nwith\r\nbreaks"))
            #expect(try await mailbox.read(device: device, after: 0, limit: 10).entries == Array(expected[1...]))
        }
    }

    @Test func sweepReturnsExpiredEntriesAcrossDevicesExactlyOnceUnderConcurrency() async throws {
        try await withMailbox { mailbox, redis in
            var expiring: [(device: String, entry: MailboxEntry)] = []
            for d in 0..<4 {
                for m in 0..<60 {
                    // 3 s: every entry must still be live when it is stored, and storing 244 took over 0.7 s once
                    // under the suite's load (fresh-clone CI).
                    expiring.append((device: "dev-\(d)", entry: Self.entry("m\(m)\n\(d)", [UInt8(m), 0, 10], expiresInMs: 3_000)))
                }
            }
            let lasting = (0..<4).map { (device: "dev-\($0)", entry: Self.entry("keep", [1])) }
            let results = try await store(mailbox, expiring + lasting)
            #expect(results.allSatisfy { Self.seq($0) != nil })
            let expected = Set(zip(expiring, results).map { "\($0.device)|\(Self.stored($0.entry, $1))" })
            // A device whose keys vanished (expired) meanwhile: its index members are dropped without a result.
            let gone = Self.entry("x", expiresInMs: 3_000)
            _ = try await store(mailbox, "gone", [gone])
            _ = try await redis.client.send(["DEL", "t:mbox:{gone}", "t:mbox-e:{gone}", "t:mbox-m:{gone}"])
            try await Task.sleep(for: .milliseconds(max(0, gone.expiresAtMs - Self.nowMs()) + 200))

            // Two routers (two connections) sweeping at once, in small steps so their calls interleave.
            let other = RedisClient(endpoint: redis.client.endpoint, logger: RedisTestServer.logger)
            defer { other.close() }
            let sweepers = [mailbox, Mailbox(redis: other, prefix: "t")]
            let swept = try await sweepAtOnce(sweepers, limit: 7) { "\($0)" }
            let all = swept.flatMap { $0 }
            #expect(all.count == expiring.count)
            #expect(Set(all) == expected)
            // Which sweeper took how many depends on the machine's load (one may find everything gone); that each
            // entry came out exactly once, over both, is the property.
            print("mailbox sweep: the two sweepers took \(swept.map(\.count)) of \(expiring.count) expired entries")
            #expect(try await mailbox.totalEntries() == 4)
            for d in 0..<4 {
                #expect(try await mailbox.read(device: "dev-\(d)", after: 0, limit: 100).entries.map(\.id) == ["keep"])
                #expect(try await mailbox.depth(device: "dev-\(d)") == (1, 1))
            }
            #expect(try await redis.client.send(["EXISTS", "t:mbox-m:{gone}"]) == .integer(0))
            #expect(try await offload { try mailbox.sweepExpiredBlocking() }.isEmpty)
        }
    }

    @Test func seqKeepsIncreasingAfterTheMailboxEmptiedAndExpired() async throws {
        try await withMailbox(keyGrace: .milliseconds(100)) { mailbox, redis in
            let first = try #require(Self.seq(try await store(mailbox, "d", [Self.entry("a")])[0]))
            #expect(try await mailbox.ack(device: "d", id: "a"))
            let second = try #require(Self.seq(try await store(mailbox, "d", [Self.entry("a")])[0]))
            #expect(second > first)
            _ = try await mailbox.ack(device: "d", id: "a")
            // The counter lost (as if Redis restarted empty): restarts from the clock, still above.
            _ = try await redis.client.send(["DEL", "t:mbox-m:{d}"])
            let third = try #require(Self.seq(try await store(mailbox, "d", [Self.entry("b", expiresInMs: 400)])[0]))
            #expect(third > second)
            // Abandoned: all keys go away on their own shortly after the latest expiry (grace 100 ms here).
            try await Task.sleep(for: .milliseconds(800))
            #expect(try await redis.client.send(["EXISTS", "t:mbox:{d}", "t:mbox-e:{d}", "t:mbox-m:{d}"]) == .integer(0))
            let fourth = try #require(Self.seq(try await store(mailbox, "d", [Self.entry("c")])[0]))
            #expect(fourth > third)
            // The sweeper drops the vanished entry's index member.
            #expect(try await offload { try mailbox.sweepExpiredBlocking() }.isEmpty)
            #expect(try await mailbox.totalEntries() == 1)
        }
    }

    @Test func depthReportsCountAndPayloadBytes() async throws {
        try await withMailbox { mailbox, _ in
            #expect(try await mailbox.depth(device: "d") == (0, 0))
            _ = try await store(mailbox, "d", [Self.entry("a", [UInt8](repeating: 0, count: 1000)), Self.entry("b", [])])
            _ = try await store(mailbox, "e", [Self.entry("a", [1, 2])])
            #expect(try await mailbox.depth(device: "d") == (2, 1000))
            #expect(try await mailbox.depth(device: "e") == (1, 2))
        }
    }

    @Test func storedValueEncodingRoundTripsAndRejectsGarbage() {
        let entry = MailboxEntry(seq: 42, id: "i", service: "s p", contentType: "a/b\n", expiresAtMs: -5, payload: [0, 10, 32])
        #expect(MailboxEntry(seq: 42, id: "i", storedValue: entry.storedValue) == entry)
        #expect(MailboxEntry(seq: 1, id: "i", storedValue: Array("12 3 4 extra\nabcdefg".utf8))
            == MailboxEntry(seq: 1, id: "i", service: "abc", contentType: "defg", expiresAtMs: 12, payload: []))
        for garbage in ["", "12 3 4", "12 3\nabc", "x 0 0\n", "12 5 5\nshort"] {
            #expect(MailboxEntry(seq: 1, id: "i", storedValue: Array(garbage.utf8)) == nil)
        }
    }
}
