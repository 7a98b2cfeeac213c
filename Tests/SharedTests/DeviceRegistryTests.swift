import DevCluster
import Foundation
import Infrastructure
import NIOCore
import NIOPosix
import Testing
@testable import Shared

@Suite("DeviceRegistry")
struct DeviceRegistryTests {
    /// Runs `body` with a registry on a fresh redis-server, stopped afterwards.
    private func withRegistry(routeTTL: Duration = .seconds(3600),
                              _ body: (DeviceRegistry, RedisClient) async throws -> Void) async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        try await body(DeviceRegistry(redis: redis.client, prefix: "t", routeTTL: routeTTL), redis.client)
    }

    @Test func claimWritesTheDocumentedSchema() async throws {
        try await withRegistry { registry, redis in
            let (route, replaced) = try await registry.claim(device: "d1", edge: "edge-1", session: "s1")
            #expect(replaced == nil)
            #expect(route.edge == "edge-1" && route.session == "s1" && route.sinceMs > 1_700_000_000_000)
            let hash = try #require(try await redis.send(["HGETALL", "t:route:{d1}"]).array).map { $0.string ?? "" }
            let fields = Dictionary(uniqueKeysWithValues: stride(from: 0, to: hash.count, by: 2).map { (hash[$0], hash[$0 + 1]) })
            #expect(fields == ["edge": "edge-1", "session": "s1", "epoch": "\(route.epoch)", "since": "\(route.sinceMs)"])
            let routeTTL = try #require(try await redis.send(["PTTL", "t:route:{d1}"]).int)
            #expect(routeTTL > 3_590_000 && routeTTL <= 3_600_000)
            #expect(try await redis.send(["GET", "t:epoch:{d1}"]).int == route.epoch)
            #expect(try #require(try await redis.send(["PTTL", "t:epoch:{d1}"]).int) > 29 * 24 * 3_600_000)
        }
    }

    @Test func claimReturnsIncreasingEpochsAndTheReplacedRoute() async throws {
        try await withRegistry { registry, _ in
            let first = try await registry.claim(device: "d", edge: "edge-1", session: "s1")
            let second = try await registry.claim(device: "d", edge: "edge-2", session: "s2")
            #expect(second.route.epoch == first.route.epoch + 1)
            #expect(second.replaced == first.route)
            // A retried claim by the same connection replaces nothing the caller must close.
            let retried = try await registry.claim(device: "d", edge: "edge-2", session: "s2")
            #expect(retried.route.epoch == second.route.epoch + 1)
            #expect(retried.replaced == nil)
        }
    }

    @Test func epochsKeepGrowingWhenTheCounterIsLost() async throws {
        try await withRegistry { registry, redis in
            let first = try await registry.claim(device: "d", edge: "edge-1", session: "s1")
            _ = try await registry.release(device: "d", session: "s1")
            _ = try await redis.send(["DEL", "t:epoch:{d}"])  // as if it expired or Redis restarted empty
            let second = try await registry.claim(device: "d", edge: "edge-1", session: "s2")
            #expect(second.route.epoch > first.route.epoch)
        }
    }

    @Test func aStaleReleaseDoesNotEraseANewerRoute() async throws {
        try await withRegistry { registry, _ in
            try await registry.heartbeat(edge: "edge-2")
            _ = try await registry.claim(device: "A", edge: "edge-1", session: "session1")
            let newer = try await registry.claim(device: "A", edge: "edge-2", session: "session2")
            #expect(try await registry.release(device: "A", session: "session1") == false)
            #expect(try await registry.lookup(device: "A") == .online(newer.route))
        }
    }

    @Test func releaseByTheHolderDeletes() async throws {
        try await withRegistry { registry, redis in
            _ = try await registry.claim(device: "d", edge: "edge-1", session: "s1")
            #expect(try await registry.release(device: "d", session: "s1"))
            #expect(try await redis.send(["EXISTS", "t:route:{d}"]) == .integer(0))
            #expect(try await registry.lookup(device: "d") == .noRoute)
            #expect(try await registry.release(device: "d", session: "s1") == false)
        }
    }

    @Test func releaseOnAnEventLoopCompletesThereAndDeletesOnlyTheHoldersRoute() async throws {
        try await withRegistry { registry, redis in
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            _ = try await registry.claim(device: "d", edge: "edge-1", session: "s2")
            let other = try await registry.release(device: "d", session: "s1", on: loop).map { ($0, loop.inEventLoop) }.get()
            #expect(other == (false, true), "not the holder: kept; answered on the loop")
            #expect(try await registry.release(device: "d", session: "s2", on: loop).get())
            #expect(try await redis.send(["EXISTS", "t:route:{d}"]) == .integer(0))
        }
    }

    @Test func lookupFollowsTheEdgeHeartbeat() async throws {
        try await withRegistry { registry, _ in
            #expect(try await registry.lookup(device: "never") == .noRoute)
            let (route, _) = try await registry.claim(device: "d", edge: "edge-1", session: "s1")
            #expect(try await registry.lookup(device: "d") == .edgeDead(route))
            try await registry.heartbeat(edge: "edge-1")
            #expect(try await registry.lookup(device: "d") == .online(route))
            try await registry.removeEdge("edge-1")
            #expect(try await registry.lookup(device: "d") == .edgeDead(route))
            try await registry.heartbeat(edge: "edge-1", ttl: .milliseconds(1500))
            #expect(try await registry.lookup(device: "d") == .online(route))
            // The liveness key expires by itself; wait for it rather than for a fixed time, which a loaded machine misses.
            let deadline = ContinuousClock.now + .seconds(10)
            while try await registry.lookup(device: "d") != .edgeDead(route), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await registry.lookup(device: "d") == .edgeDead(route))
        }
    }

    @Test func refreshOnlyExtendsRoutesThatStillNameTheSession() async throws {
        try await withRegistry(routeTTL: .seconds(60)) { registry, redis in
            _ = try await registry.claim(device: "d1", edge: "edge-1", session: "s1")
            _ = try await registry.claim(device: "d2", edge: "edge-1", session: "s2")
            _ = try await redis.send(["PEXPIRE", "t:route:{d1}", "5000"])
            _ = try await redis.send(["PEXPIRE", "t:route:{d2}", "5000"])
            let refreshed = try await registry.refresh([
                (device: "d1", session: "s1"), (device: "d2", session: "someone-else"), (device: "d3", session: "s3"),
            ])
            #expect(refreshed == 1)
            #expect(try #require(try await redis.send(["PTTL", "t:route:{d1}"]).int) > 55_000)
            #expect(try #require(try await redis.send(["PTTL", "t:route:{d2}"]).int) <= 5_000)
            #expect(try await redis.send(["PTTL", "t:route:{d3}"]) == .integer(-2))
            #expect(try await registry.refresh([]) == 0)
        }
    }

    @Test func batchLookupOfAThousandDevices() async throws {
        try await withRegistry { registry, _ in
            // Device i: i % 3 == 0 on a live edge, 1 on a dead edge, 2 never connected.
            let devices = (0..<1000).map { "device-\($0)" }
            try await registry.heartbeat(edge: "alive")
            let claimed = try await withThrowingTaskGroup(of: (Int, DeviceRoute).self) { group in
                for i in devices.indices where i % 3 != 2 {
                    group.addTask {
                        let edge = i % 3 == 0 ? "alive" : "dead"
                        return (i, try await registry.claim(device: devices[i], edge: edge, session: "s\(i)").route)
                    }
                }
                var routes: [Int: DeviceRoute] = [:]
                for try await (i, route) in group { routes[i] = route }
                return routes
            }
            let results = try registry.lookupBlocking(devices: devices)
            #expect(results.count == devices.count)
            for (i, result) in results.enumerated() {
                switch i % 3 {
                case 0: #expect(result == .online(claimed[i]!))
                case 1: #expect(result == .edgeDead(claimed[i]!))
                default: #expect(result == .noRoute)
                }
            }
            #expect(try registry.lookupBlocking(devices: []) == [])
        }
    }
}
