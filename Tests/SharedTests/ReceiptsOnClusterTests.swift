import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import NIOCore
import NIOPosix
import Testing
@testable import Shared

/// Receipts and the mailbox's operator operations on a live Redis Cluster (three primaries, a replica each): every
/// script that writes or reads a receipt stays in its device's slot, whichever primary holds it.
@Suite("Receipts on Redis Cluster", .serialized)
struct ReceiptsOnClusterTests {
    @Test func everyReceiptStateAndMailboxOperationWorksAcrossThePrimaries() async throws {
        let cluster = try await offload { try RedisClusterProcess.start() }
        defer { cluster.stop() }
        let redis = RedisClusterClient(seeds: cluster.ports.map { RedisEndpoint(port: $0) }, logger: RedisTestServer.logger)
        defer { redis.close() }
        try await offload { try redis.checkReachable() }
        let mailbox = Mailbox(redis: redis, prefix: "t", limits: MailboxLimits(maxCount: 3))
        let receipts = ReceiptStore(redis: redis, keys: RedisKeys(prefix: "t"))
        let map = try #require(redis.slotMap)
        let devices = (0..<60).map { "dev-\($0)" }
        let primaries = Set(devices.compactMap { map.primary(forSlot: RedisKeySlot.slot(of: RedisKeys(prefix: "t").mailbox($0)))?.port })
        #expect(primaries.count == 3)

        // Per device: a (acked), b (deleted), c (expires: read for half the devices, swept for the others), then one
        // refused as full. c lives long enough for the listing below even on a loaded machine.
        let cExpiresAt = Date().addingTimeInterval(12)
        let items = devices.flatMap { device in
            ["a", "b", "c"].map { (device: device, entry: ReceiptTests.entry($0, expiresInMs: $0 == "c" ? 12_000 : 60_000)) }
        }
        _ = try await offload { try mailbox.storeBlocking(items) }
        let refused = try await offload { try mailbox.storeBlocking(devices.map { (device: $0, entry: ReceiptTests.entry("full")) }) }
        #expect(refused.allSatisfy { $0 == .full })
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        #expect(try await mailbox.markDelivered(devices.map { ($0, "a") }, edge: "e1", on: loop).get().allSatisfy { $0 })
        #expect(try await mailbox.ackReceipts(devices.map { ($0, "a") }).acked.count == 60)
        for device in devices {
            #expect(try await mailbox.list(device: device, after: 0, limit: 10).entries.map(\.id) == ["b", "c"])
            #expect(try await mailbox.summary(device: device).oldest?.id == "b")
            #expect(try await mailbox.delete(device: device, id: "b"))
        }
        try await Task.sleep(for: .milliseconds(max(0, Int(cExpiresAt.timeIntervalSinceNow * 1000)) + 100))
        for device in devices.prefix(30) {
            #expect(try await mailbox.read(device: device, after: 0, limit: 10).expired.map(\.id) == ["c"])
        }
        let swept = try await offload { try mailbox.sweepExpiredBlocking() }
        #expect(Set(swept.map(\.device)) == Set(devices.suffix(30)))
        for device in devices {
            #expect(try await receipts.receipt(device: device, id: "a")?.state == .acked)
            #expect(try await receipts.receipt(device: device, id: "b")?.state == .deleted)
            #expect(try await receipts.receipt(device: device, id: "c")?.state == .expired)
            #expect(try await receipts.receipt(device: device, id: "full")?.reason == "mailbox_full")
        }
        _ = try await offload { try mailbox.storeBlocking(devices.map { (device: $0, entry: ReceiptTests.entry("d")) }) }
        for device in devices { #expect(try await mailbox.deleteAll(device: device) == 1) }
        #expect(try await receipts.receipt(device: "dev-0", id: "d")?.state == .deleted)
        #expect(try await mailbox.totalEntries() == 0)
    }
}
