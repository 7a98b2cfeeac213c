import DevCluster
import Foundation
import Lifecycle
import Logging
import Testing

@testable import Infrastructure

/// A throwaway redis-server and a client connected to it, both stopped by `stop()`.
struct RedisTestServer {
    let server: RedisProcess
    let client: RedisClient

    static let logger = Logger(label: "redis-tests")

    static func start(port: Int? = nil) throws -> RedisTestServer {
        let server = try RedisProcess.start(port: port)
        return RedisTestServer(server: server, client: RedisClient(endpoint: .init(port: server.port), logger: logger))
    }

    func stop() {
        client.close()
        Self.stop(server)
    }

    /// Kills the server at once. A child started from a test (a Dispatch thread) inherits a blocked SIGTERM,
    /// so `RedisProcess.stop()` alone would wait out its 5 s grace period.
    static func stop(_ server: RedisProcess) {
        server.process.crash()
        server.stop()
    }
}

@Suite("RedisClient")
struct RedisClientTests {
    @Test func commandsAndReplyTypes() async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        let client = redis.client
        try client.checkReachable()
        #expect(try await client.send(["SET", "k", "v"]) == .status("OK"))
        #expect(try await client.send(["GET", "k"]).string == "v")
        #expect(try await client.send(["GET", "missing"]) == .null)
        #expect(try await client.send(["INCR", "n"]) == .integer(1))
        _ = try await client.send(["RPUSH", "list", "a", "b"])
        #expect(try await client.send(["LRANGE", "list", "0", "-1"]) == .array([.bulk(Array("a".utf8)), .bulk(Array("b".utf8))]))
        #expect(try client.sendBlocking(["GET", "n"]).int == 1)
    }

    @Test func concurrentCallersArePipelinedAndKeepTheirOrder() async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        let client = redis.client

        // 50 tasks, each awaiting 40 INCRs on its own key: every reply must be the caller's own count.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<50 {
                group.addTask {
                    for expected in 1...40 {
                        let value = try await client.send(["INCR", "caller:\(caller)"])
                        #expect(value == .integer(Int64(expected)))
                    }
                }
            }
            try await group.waitForAll()
        }

        // One thread firing 2000 INCRs without waiting: replies come back in send order.
        let waiter = Gathering<[Int64]>(count: 1)
        let collected = RedisTestBox<[Int64]>([])
        let total = 2_000
        for _ in 0..<total {
            client.send([Array("INCR".utf8), Array("seq".utf8)]) { result in
                let values = collected.update { $0.append((try? result.get().int) ?? -1); return $0 }
                if values.count == total { waiter.put(values, at: 0) }
            }
        }
        let values = try #require(waiter.wait(until: .now + .seconds(10))[0])
        #expect(values == Array(1...Int64(total)))
        #expect(client.worker.largestBatch > 1, "concurrent sends should have gone out as one pipeline")
    }

    @Test func valuesAreBinarySafe() async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        let key: [UInt8] = [0, 13, 10, 255, 32, 0]
        let value = (0...255).map(UInt8.init) + [13, 10, 0]
        #expect(try await redis.client.send([Array("SET".utf8), key, value]) == .status("OK"))
        #expect(try await redis.client.send([Array("GET".utf8), key]) == .bulk(value))
        _ = try await redis.client.send([Array("SET".utf8), Array("empty".utf8), []])
        #expect(try await redis.client.send(["GET", "empty"]) == .bulk([]))
    }

    @Test func errorRepliesAreThrown() async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        let client = redis.client
        _ = try await client.send(["SET", "text", "abc"])
        let error = await #expect(throws: RedisError.self) { try await client.send(["INCR", "text"]) }
        #expect(error?.isConnectionError == false)
        #expect(error?.message.contains("not an integer") == true)
        #expect(throws: RedisError.self) { try client.sendBlocking(["NOSUCHCOMMAND"]) }

        // In a pipeline an error fails only its own command.
        let results = try client.pipelineBlocking([["INCR", "a"], ["INCR", "text"], ["INCR", "a"]])
        #expect(try results[0].get() == .integer(1))
        #expect(throws: RedisError.self) { try results[1].get() }
        #expect(try results[2].get() == .integer(2))
    }

    @Test func checkReachableFailsFastOnAClosedPort() throws {
        let port = try FreePort.next()
        let client = RedisClient(endpoint: .init(port: port), logger: RedisTestServer.logger)
        defer { client.close() }
        let start = ContinuousClock.now
        let error = #expect(throws: RedisError.self) { try client.checkReachable(timeout: .seconds(3)) }
        #expect(ContinuousClock.now - start < .seconds(4), "fails fast rather than waiting out timeouts")
        #expect(error?.message.hasPrefix("cannot reach Redis at 127.0.0.1:\(port): ") == true, "\(String(describing: error))")
        #expect(error?.isConnectionError == true)
        #expect(throws: RedisError.self) { try client.sendBlocking(["PING"]) }
    }

    @Test func passwordIsSentOnConnect() async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        _ = try await redis.client.send(["CONFIG", "SET", "requirepass", "s3cret"])

        let good = RedisClient(endpoint: .init(port: redis.server.port, password: "s3cret"), logger: RedisTestServer.logger)
        defer { good.close() }
        try good.checkReachable()
        #expect(try await good.send(["SET", "x", "1"]) == .status("OK"))

        let none = RedisClient(endpoint: .init(port: redis.server.port), logger: RedisTestServer.logger)
        defer { none.close() }
        let refused = #expect(throws: RedisError.self) { try none.checkReachable() }
        #expect(refused?.message.contains("NOAUTH") == true, "\(String(describing: refused))")

        let wrong = RedisClient(endpoint: .init(port: redis.server.port, password: "nope"), logger: RedisTestServer.logger)
        defer { wrong.close() }
        let rejected = #expect(throws: RedisError.self) { try wrong.checkReachable() }
        #expect(rejected?.message.contains("AUTH failed") == true, "\(String(describing: rejected))")
        #expect(rejected?.message.contains("nope") == false)
    }

    @Test func reconnectsByItselfAfterTheServerComesBack() async throws {
        let port = try FreePort.next()
        var server = try RedisProcess.start(port: port)
        defer { RedisTestServer.stop(server) }
        let client = RedisClient(endpoint: .init(port: port), logger: RedisTestServer.logger)
        defer { client.close() }
        #expect(try await client.send(["PING"]) == .status("PONG"))

        RedisTestServer.stop(server)
        let lost = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
        #expect(lost?.isConnectionError == true)
        // While it is down, requests fail at once instead of waiting out the backoff.
        for _ in 0..<20 {
            let start = ContinuousClock.now
            let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
            #expect(error?.isConnectionError == true)
            #expect(ContinuousClock.now - start < .seconds(3), "fails fast rather than waiting for the 5 s command timeout")
            try await Task.sleep(for: .milliseconds(20))
        }

        server = try RedisProcess.start(port: port)
        let deadline = ContinuousClock.now + .seconds(8)
        var recovered = false
        while !recovered && ContinuousClock.now < deadline {
            recovered = (try? await client.send(["PING"])) == .status("PONG")
            if !recovered { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(recovered)
    }

    @Test func aSlowReplyTimesOutAndTheClientRecovers() async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        let client = RedisClient(endpoint: .init(port: redis.server.port, commandTimeout: .milliseconds(200)),
                                 logger: RedisTestServer.logger)
        defer { client.close() }
        // Busy-waits 600 ms inside Redis: longer than the command timeout.
        let spin = RedisScript("""
            local t = redis.call('TIME'); local start = t[1] * 1000000 + t[2]
            repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > 600000
            return 1
            """)
        let error = await #expect(throws: RedisError.self) { try await client.run(spin, keys: [], args: []) }
        #expect(error?.isConnectionError == true)
        #expect(error?.message.contains("no reply within") == true, "\(String(describing: error))")

        let deadline = ContinuousClock.now + .seconds(5)
        var recovered = false
        while !recovered && ContinuousClock.now < deadline {
            recovered = (try? await client.send(["PING"])) == .status("PONG")
            if !recovered { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(recovered)
    }

    @Test func scriptsSurviveScriptFlush() async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        let client = redis.client
        let echo = RedisScript("return {KEYS[1], ARGV[1]}")
        #expect(try await client.send(["SCRIPT", "LOAD", echo.source]).string == echo.sha1)
        let expected = RedisValue.array([.bulk(Array("k".utf8)), .bulk(Array("v".utf8))])
        #expect(try await client.run(echo, keys: ["k"], args: ["v"]) == expected)

        _ = try await client.send(["SCRIPT", "FLUSH"])
        #expect(try await client.run(echo, keys: ["k"], args: ["v"]) == expected)

        _ = try await client.send(["SCRIPT", "FLUSH"])
        let many = (0..<10).map { RedisScript.Invocation(keys: ["k\($0)"], args: ["v\($0)"]) }
        let results = try client.runBlocking(echo, invocations: many)
        for (i, result) in results.enumerated() {
            #expect(try result.get() == .array([.bulk(Array("k\(i)".utf8)), .bulk(Array("v\(i)".utf8))]))
        }

        let failing = RedisScript("return redis.call('INCR', KEYS[1])")
        _ = try await client.send(["SET", "text", "abc"])
        await #expect(throws: RedisError.self) { try await client.run(failing, keys: ["text"], args: []) }
    }

    @Test func sha1MatchesKnownVectors() {
        #expect(RedisScript.sha1Hex([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisScript.sha1Hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(RedisScript.sha1Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }

    @Test func aFullQueueFailsAtOnce() throws {
        let port = try FreePort.next()
        let client = RedisClient(endpoint: .init(port: port), logger: RedisTestServer.logger, maxQueued: 5)
        defer { client.close() }
        let results = try client.pipelineBlocking(Array(repeating: ["PING"], count: 6))
        for result in results {
            let error = #expect(throws: RedisError.self) { try result.get() }
            #expect(error?.message.contains("queue full") == true)
            #expect(error?.isConnectionError == false)
        }
    }

    @Test func writingToAKilledConnectionDoesNotKillTheProcess() async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        let victim = RedisClient(endpoint: .init(port: redis.server.port), logger: RedisTestServer.logger)
        defer { victim.close() }
        let id = try #require(try await victim.send(["CLIENT", "ID"]).int)
        _ = try await redis.client.send(["CLIENT", "KILL", "ID", String(id)])
        // Several MB take many write(2) calls: the ones after the peer's reset get EPIPE (SIGPIPE if unblocked).
        let big = [UInt8](repeating: 120, count: 4 << 20)
        let results = await withCheckedContinuation { continuation in
            victim.pipeline([[Array("SET".utf8), Array("a".utf8), big], [Array("SET".utf8), Array("b".utf8), big]]) {
                continuation.resume(returning: $0)
            }
        }
        for result in results {
            let error = #expect(throws: RedisError.self) { try result.get() }
            #expect(error?.isConnectionError == true)
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await victim.send(["PING"]) == .status("PONG"))
    }

    @Test func closedClientFailsRequests() async throws {
        let redis = try RedisTestServer.start()
        defer { redis.stop() }
        redis.client.close()
        let error = await #expect(throws: RedisError.self) { try await redis.client.send(["PING"]) }
        #expect(error?.isConnectionError == true)
    }
}

/// A value shared between test callbacks.
final class RedisTestBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func update<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&value) } }
}
