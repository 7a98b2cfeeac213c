import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import NIOCore
import NIOPosix
import Testing
@testable import Shared

/// Delivery receipts on one redis-server: each state is written by the step that causes it (store, the router's
/// delivered write, ack, read, sweep, delete), a receipt never goes back, and messages without one leave no key.
@Suite("Receipts")
struct ReceiptTests {
    private func withStores(limits: MailboxLimits = MailboxLimits(),
                            _ body: (Mailbox, ReceiptStore, RedisTestServer) async throws -> Void) async throws {
        let redis = try await offload { try RedisTestServer.start() }
        defer { redis.stop() }
        try await body(Mailbox(redis: redis.client, prefix: "t", limits: limits),
                       ReceiptStore(redis: redis.client, keys: RedisKeys(prefix: "t")), redis)
    }

    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func entry(_ id: String, receipt: Bool = true, expiresInMs: Int64 = 60_000) -> MailboxEntry {
        MailboxEntry(seq: 0, id: id, service: "echo", contentType: "text/plain", expiresAtMs: nowMs() + expiresInMs,
                     payload: Array("payload-\(id)".utf8), receipt: receipt)
    }

    private func store(_ mailbox: Mailbox, _ device: String, _ entries: [MailboxEntry]) async throws -> [StoreResult] {
        try await offload { try mailbox.storeBlocking(entries.map { (device: device, entry: $0) }) }
    }

    private func exists(_ redis: RedisTestServer, _ key: String) async throws -> Bool {
        try await redis.client.send(["EXISTS", key], key: key).int == 1
    }

    private static let loop = MultiThreadedEventLoopGroup.singleton.next()

    @Test func storingOpensAWaitingReceiptKeptADayPastTheExpiryAndOnlyWhenAsked() async throws {
        try await withStores { mailbox, receipts, redis in
            let before = Self.nowMs()
            let asked = Self.entry("m1")
            _ = try await store(mailbox, "d1", [asked, Self.entry("m2", receipt: false)])
            let receipt = try #require(try await receipts.receipt(device: "d1", id: "m1"))
            #expect(receipt.state == .waiting && receipt.service == "echo" && receipt.expiresAt == asked.expiresAtMs)
            #expect(receipt.storedAt.map { $0 >= before - 1000 } == true && receipt.updatedAt == receipt.storedAt)
            #expect(receipt.deliveredAt == nil && receipt.ackedAt == nil && receipt.edge == nil && receipt.reason == nil)
            let key = RedisKeys(prefix: "t").receipt(device: "d1", id: "m1")
            let expireAt = try #require(try await redis.client.send(["PEXPIRETIME", key], key: key).int)
            #expect(expireAt == asked.expiresAtMs + 86_400_000)
            #expect(try await receipts.receipt(device: "d1", id: "m2") == nil)
            #expect(try await !exists(redis, RedisKeys(prefix: "t").receipt(device: "d1", id: "m2")))
            // The receipt mark travels with the entry.
            #expect(try await mailbox.read(device: "d1", after: 0, limit: 10).entries.map(\.receipt) == [true, false])
        }
    }

    @Test func deliveredThenAckedAndNeverBack() async throws {
        try await withStores { mailbox, receipts, _ in
            _ = try await store(mailbox, "d1", [Self.entry("m1"), Self.entry("m2", receipt: false)])
            #expect(try await mailbox.markDelivered([("d1", "m1"), ("d1", "m2")], edge: "e1", on: Self.loop).get() == [true, false])
            #expect(try await mailbox.markDelivered([("d1", "m1")], edge: "e2", on: Self.loop).get() == [false], "delivered once")
            let delivered = try #require(try await receipts.receipt(device: "d1", id: "m1"))
            #expect(delivered.state == .delivered && delivered.edge == "e1" && delivered.deliveredAt != nil)

            let acked = try await mailbox.ackReceipts([("d1", "m1"), ("d1", "m2"), ("d1", "gone")])
            #expect(acked.deleted == 2)
            #expect(acked.acked.map(\.device) == ["d1"])
            #expect(acked.acked.first?.entry.payload == Array("payload-m1".utf8) && acked.acked.first?.entry.receipt == true)
            let final = try #require(try await receipts.receipt(device: "d1", id: "m1"))
            #expect(final.state == .acked && final.ackedAt != nil && final.edge == "e1" && final.deliveredAt == delivered.deliveredAt)

            // A late delivered write, a repeated ack and the record routed again leave it acked.
            #expect(try await mailbox.markDelivered([("d1", "m1")], edge: "e1", on: Self.loop).get() == [false])
            #expect(try await mailbox.ackReceipts([("d1", "m1")]).acked.isEmpty)
            #expect(try await store(mailbox, "d1", [Self.entry("m1")]).first.map { if case .stored = $0 { true } else { false } } == true)
            #expect(try await receipts.receipt(device: "d1", id: "m1")?.state == .acked)
            #expect(try await mailbox.ackReceipts([("d1", "m1")]).acked.isEmpty, "acked once: the second ack reports nothing")
        }
    }

    @Test func anAckWithoutADeliveredWriteStillEndsAcked() async throws {
        try await withStores { mailbox, receipts, _ in
            _ = try await store(mailbox, "d1", [Self.entry("m1")])
            #expect(try await mailbox.ack(device: "d1", id: "m1"))
            let receipt = try #require(try await receipts.receipt(device: "d1", id: "m1"))
            #expect(receipt.state == .acked && receipt.deliveredAt == nil)
        }
    }

    @Test func aFullMailboxRefusesAndAnExpiredMessageIsExpiredOnArrival() async throws {
        try await withStores(limits: MailboxLimits(maxCount: 1)) { mailbox, receipts, redis in
            #expect(try await store(mailbox, "d1", [Self.entry("a"), Self.entry("b")]).last == .full)
            let refused = try #require(try await receipts.receipt(device: "d1", id: "b"))
            #expect(refused.state == .refused && refused.reason == "mailbox_full" && refused.storedAt == nil)
            #expect(try await receipts.receipt(device: "d1", id: "a")?.state == .waiting, "a duplicate check first")

            #expect(try await store(mailbox, "d2", [Self.entry("old", expiresInMs: -5000)]) == [.expired])
            let expired = try #require(try await receipts.receipt(device: "d2", id: "old"))
            #expect(expired.state == .expired && expired.reason == "on_arrival")
            let key = RedisKeys(prefix: "t").receipt(device: "d2", id: "old")
            let ttl = try #require(try await redis.client.send(["PTTL", key], key: key).int)
            #expect(ttl > 86_000_000, "kept a day from now when the expiry has passed")
            // Without a receipt, refusals leave no key.
            _ = try await store(mailbox, "d1", [Self.entry("c", receipt: false)])
            #expect(try await !exists(redis, RedisKeys(prefix: "t").receipt(device: "d1", id: "c")))
        }
    }

    @Test func readAndSweepMarkExpired() async throws {
        try await withStores { mailbox, receipts, _ in
            _ = try await store(mailbox, "d1", [Self.entry("r", expiresInMs: 150), Self.entry("live")])
            _ = try await store(mailbox, "d2", [Self.entry("s", expiresInMs: 150)])
            #expect(try await mailbox.markDelivered([("d2", "s")], edge: "e1", on: Self.loop).get() == [true])
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await mailbox.read(device: "d1", after: 0, limit: 10).expired.map(\.id) == ["r"])
            #expect(try await receipts.receipt(device: "d1", id: "r")?.state == .expired)
            #expect(try await receipts.receipt(device: "d1", id: "live")?.state == .waiting)
            let swept = try await offload { try mailbox.sweepExpiredBlocking() }
            #expect(swept.map(\.entry.id) == ["s"])
            let expired = try #require(try await receipts.receipt(device: "d2", id: "s"))
            #expect(expired.state == .expired && expired.edge == "e1" && expired.reason == nil)
            #expect(try await mailbox.ackReceipts([("d2", "s")]).deleted == 0)
            #expect(try await receipts.receipt(device: "d2", id: "s")?.state == .expired)
        }
    }

    @Test func deletesMarkDeletedAndLeaveNothingBehind() async throws {
        try await withStores { mailbox, receipts, redis in
            let results = try await store(mailbox, "d1", [Self.entry("a"), Self.entry("b", receipt: false), Self.entry("c")])
            #expect(try await mailbox.delete(device: "d1", id: "a"))
            #expect(try await !mailbox.delete(device: "d1", id: "a"))
            #expect(try await receipts.receipt(device: "d1", id: "a")?.state == .deleted)
            #expect(try await mailbox.depth(device: "d1") == (2, 18))
            #expect(try await mailbox.totalEntries() == 2)

            _ = try await store(mailbox, "d2", [Self.entry("x")])
            #expect(try await mailbox.deleteAll(device: "d1") == 2)
            #expect(try await receipts.receipt(device: "d1", id: "c")?.state == .deleted)
            #expect(try await mailbox.depth(device: "d1") == (0, 0))
            #expect(try await mailbox.totalEntries() == 1, "only d2's entry is left in the expiry index")
            #expect(try await mailbox.deleteAll(device: "d1") == 0)
            #expect(try await mailbox.deleteAll(device: "never") == 0)
            // An ack after the delete finds nothing and the receipt stays deleted; seqs keep growing.
            #expect(try await mailbox.ackReceipts([("d1", "c")]).deleted == 0)
            #expect(try await receipts.receipt(device: "d1", id: "c")?.state == .deleted)
            let last = results.compactMap { result -> Int64? in
                if case .stored(let seq) = result { return seq }
                return nil
            }.max() ?? 0
            let again = try await store(mailbox, "d1", [Self.entry("d")])
            guard case .stored(let next) = again.first else { Issue.record("d was not stored: \(again)"); return }
            #expect(next > last)
            #expect(try await !exists(redis, RedisKeys(prefix: "t").receipt(device: "d1", id: "b")))
        }
    }

    @Test func aHashThatIsNotAReceiptIsAnError() async throws {
        try await withStores { _, receipts, redis in
            let key = RedisKeys(prefix: "t").receipt(device: "d1", id: "x")
            _ = try await redis.client.send(["HSET", key, "state", "lost"], key: key)
            await #expect(throws: RedisError.self) { try await receipts.receipt(device: "d1", id: "x") }
        }
    }
}
