import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Testing
@testable import Shared

/// The revocations in Redis (docs/redis-schema.md, "Revocations"): a hash of rules and a stream of their changes, on a
/// fresh redis-server.
@Suite("RevocationStore")
struct RevocationStoreTests {
    let keys = RedisKeys(prefix: "t")

    /// Runs `body` with a store on a fresh redis-server, stopped afterwards.
    private func withStore(_ body: (RevocationStore, RedisClient) async throws -> Void) async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        try await body(RevocationStore(redis: redis.client, keys: keys), redis.client)
    }

    private var now: Int64 { Int64(Date().timeIntervalSince1970) }

    /// The change stream as (field, op) pairs, oldest first.
    private func changes(_ redis: RedisClient) async throws -> [[String: String]] {
        let entries = try #require(try await redis.send(["XRANGE", keys.revocationLog, "-", "+"]).array)
        return entries.map { entry in
            let values = (entry.array?.last?.array ?? []).map { $0.string ?? "" }
            return Dictionary(uniqueKeysWithValues: stride(from: 0, to: values.count - 1, by: 2).map { (values[$0], values[$0 + 1]) })
        }
    }

    @Test func setWritesTheDocumentedKeysAndOneChangePerWrite() async throws {
        try await withStore { store, redis in
            let device = Revocation(target: .device("d-1"), issuedBefore: now, reason: "stolen", createdAt: now)
            let key = Revocation(target: .key("k1"), until: now + 3600, createdAt: now)
            try await store.set(device)
            try await store.set(key)
            #expect(Set(try await store.all().map(\.field)) == ["device:d-1", "kid:k1"])
            #expect(try await store.all().first { $0.target == .device("d-1") } == device)

            let stored = try #require(try await redis.send(["HGET", "t:{revocations}", "device:d-1"]).string)
            #expect(try JSONDecoder().decode(Revocation.self, from: Data(stored.utf8)) == device)
            #expect(try await redis.send(["TYPE", "t:{revocations}:log"]) == .status("stream"))
            #expect(try await changes(redis) == [["field": "device:d-1", "op": "set"], ["field": "kid:k1", "op": "set"]])

            // A second rule for the same target replaces the first.
            let replacement = Revocation(target: .device("d-1"), reason: "every token now", createdAt: now)
            try await store.set(replacement)
            #expect(try await store.all().filter { $0.target == .device("d-1") } == [replacement])
            #expect(try await changes(redis).count == 3)
        }
    }

    @Test func liftRemovesTheRuleAndSaysWhetherThereWasOne() async throws {
        try await withStore { store, redis in
            try await store.set(Revocation(target: .device("d-1"), createdAt: now))
            try await store.set(Revocation(target: .key("k1"), createdAt: now))
            #expect(try await store.lift(.device("d-1")))
            #expect(try await store.all().map(\.field) == ["kid:k1"])
            #expect(try await changes(redis).last == ["field": "device:d-1", "op": "lift"])
            #expect(try await store.lift(.device("d-1")) == false, "nothing left to lift")
            #expect(try await store.lift(.key("k2")) == false)
            #expect(try await store.lift(.key("k1")))
            #expect(try await store.all().isEmpty)
        }
    }

    @Test func lapsedRulesAreListedUntilTheNextWriteDropsThem() async throws {
        try await withStore { store, _ in
            let lapsed = Revocation(target: .device("old"), until: now - 1, createdAt: now - 100)
            let lapsing = Revocation(target: .key("k-soon"), until: now + 1, createdAt: now)
            let lasting = Revocation(target: .device("d-1"), until: now + 3600, createdAt: now)
            try await store.set(lapsed)
            try await store.set(lasting)
            #expect(!(try await store.all()).contains(lapsed), "the next write dropped the lapsed rule")
            try await store.set(lapsing)
            #expect(try await store.all().contains(lapsing))

            try await Task.sleep(for: .milliseconds(2_100))
            #expect(try await store.all().contains(lapsing), "listed, lapsed, until a write")
            #expect(try await store.lift(.key("k-soon")) == false, "a lapsed rule is dropped, not lifted")
            #expect(try await store.all() == [lasting])
        }
    }

    @Test func unreadableFieldsAreSkippedAndSurviveWrites() async throws {
        try await withStore { store, redis in
            _ = try await redis.send(["HSET", "t:{revocations}", "device:junk", "{not json", "kid:odd", #"{"until":"soon"}"#])
            let rule = Revocation(target: .device("d-1"), createdAt: now)
            try await store.set(rule)
            #expect(try await store.all() == [rule])
            #expect(try await redis.send(["HLEN", "t:{revocations}"]).int == 3, "the write script did not choke on them")
        }
    }

    @Test func aFollowerSeesEachChangeAfterThePositionItRead() async throws {
        try await withStore { store, redis in
            #expect(try await offload { try store.lastChangeBlocking() } == "0-0")
            try await store.set(Revocation(target: .device("d-1"), createdAt: now))
            let first = try await offload { try store.lastChangeBlocking() }
            #expect(first != "0-0")
            #expect(try await offload { try store.changesBlocking(after: first, block: .milliseconds(100)) } == nil)
            #expect(try await offload { try store.allBlocking() }.map(\.field) == ["device:d-1"])

            // The wait holds its connection, as the edge's follower's does: a connection of its own.
            let follower = RedisClient(endpoint: redis.endpoint, logger: RedisTestServer.logger)
            defer { follower.close() }
            let following = RevocationStore(redis: follower, keys: keys)
            let waiting = Task { try await offload { try following.changesBlocking(after: first, block: .seconds(5)) } }
            try await Task.sleep(for: .milliseconds(200))
            try await store.lift(.device("d-1"))
            let seen = try #require(try await waiting.value)
            #expect(seen != first)
            #expect(try await offload { try store.lastChangeBlocking() } == seen)
        }
    }
}
