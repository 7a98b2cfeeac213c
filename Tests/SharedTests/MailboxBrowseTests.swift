import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Testing
@testable import Shared

/// The operator's view of a mailbox: `list` pages live entries without their payloads and removes nothing, `summary`
/// gives count, bytes and the oldest live entry.
@Suite("Mailbox list and summary")
struct MailboxBrowseTests {
    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private static func entry(_ id: String, size: Int, expiresInMs: Int64 = 60_000, receipt: Bool = false) -> MailboxEntry {
        MailboxEntry(seq: 0, id: id, service: "svc-\(id)", contentType: "type/\(id)", expiresAtMs: nowMs() + expiresInMs,
                     payload: [UInt8](repeating: 0x0A, count: size), receipt: receipt)
    }

    @Test func listPagesLiveEntriesWithoutRemovingAnything() async throws {
        let redis = try await offload { try RedisTestServer.start() }
        defer { redis.stop() }
        let mailbox = Mailbox(redis: redis.client, prefix: "t")
        let entries = [Self.entry("a", size: 3), Self.entry("gone", size: 4, expiresInMs: 100), Self.entry("b", size: 0, receipt: true),
                       Self.entry("c", size: 10), Self.entry("d", size: 1)]
        let results = try await offload { try mailbox.storeBlocking(entries.map { (device: "d1", entry: $0) }) }
        let seqs = results.map { result -> Int64 in
            if case .stored(let seq) = result { return seq }
            return -1
        }
        try await Task.sleep(for: .milliseconds(200))

        let first = try await mailbox.list(device: "d1", after: 0, limit: 2)
        #expect(first.entries == [
            MailboxListing(id: "a", seq: seqs[0], service: "svc-a", contentType: "type/a", bytes: 3, expiresAtMs: entries[0].expiresAtMs),
            MailboxListing(id: "b", seq: seqs[2], service: "svc-b", contentType: "type/b", bytes: 0, expiresAtMs: entries[2].expiresAtMs,
                           receipt: true),
        ], "the expired entry is left out")
        #expect(first.nextAfter == seqs[2])
        let second = try await mailbox.list(device: "d1", after: seqs[2], limit: 2)
        #expect(second.entries.map(\.id) == ["c", "d"] && second.entries.map(\.bytes) == [10, 1])
        #expect(second.nextAfter == nil, "nothing follows d")
        #expect(try await mailbox.list(device: "d1", after: seqs[4], limit: 2) == MailboxPage(entries: [], nextAfter: nil))
        #expect(try await mailbox.list(device: "d1", after: 0, limit: 0).entries.isEmpty)
        #expect(try await mailbox.list(device: "nobody", after: 0, limit: 10).entries.isEmpty)
        // Nothing was removed: the expired entry is still counted until a read or sweep takes it.
        #expect(try await mailbox.depth(device: "d1") == (5, 18))
        #expect(try await mailbox.read(device: "d1", after: 0, limit: 10).expired.map(\.id) == ["gone"])
    }

    @Test func summaryGivesCountBytesAndTheOldestLiveEntry() async throws {
        let redis = try await offload { try RedisTestServer.start() }
        defer { redis.stop() }
        let mailbox = Mailbox(redis: redis.client, prefix: "t")
        #expect(try await mailbox.summary(device: "d1") == MailboxSummary(count: 0, bytes: 0, oldest: nil))
        let entries = [Self.entry("gone", size: 4, expiresInMs: 100), Self.entry("a", size: 3), Self.entry("b", size: 2)]
        let results = try await offload { try mailbox.storeBlocking(entries.map { (device: "d1", entry: $0) }) }
        try await Task.sleep(for: .milliseconds(200))
        let summary = try await mailbox.summary(device: "d1")
        #expect(summary.count == 3 && summary.bytes == 9)
        guard case .stored(let seq) = results[1] else { Issue.record("a was not stored: \(results)"); return }
        #expect(summary.oldest == MailboxListing(id: "a", seq: seq, service: "svc-a", contentType: "type/a", bytes: 3,
                                                 expiresAtMs: entries[1].expiresAtMs))
    }
}
