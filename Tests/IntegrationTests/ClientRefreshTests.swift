import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Shared
import Testing

/// The Swift client keeps its token fresh on real edges, with real Redis and Tansu (docs/protocol.md, "Token
/// refresh"): tokens that live 5 s are refreshed on one connection that keeps working, a callback that fails lets the
/// edge close the connection (4008) and the device comes back once it works again, a revoked token (4009) is replaced.
@Suite(.timeLimit(.minutes(3)))
struct ClientRefreshTests {
    /// A started ``PersistentDevice`` whose tokens come from a ``TokenSource``, once it is connected.
    struct Started {
        let tokens: TokenSource
        let persistent: PersistentDevice
        let watch: DeviceWatch
        /// The first connection's session.
        let session: String

        /// An echo round trip on the device's connection.
        func echo(_ json: String) async throws {
            let id = try await persistent.send(service: "echo", payload: .json(Array(json.utf8)))
            try await watch.message("echo-\(id)", within: 10)
        }
    }

    func start(_ name: String, ttl: Duration, edge: Int, encoding: FrameEncoding = .json) async throws -> Started {
        let device = TestCluster.uniqueDevice(name)
        let tokens = TokenSource(device: device, ttl: ttl)
        let persistent = PersistentDevice(device: device, urls: [try await TestCluster.shared.edgeURL(edge)], encoding: encoding,
                                          getToken: { try await tokens.next() })
        let watch = DeviceWatch(persistent)
        persistent.start()
        return Started(tokens: tokens, persistent: persistent, watch: watch, session: try await watch.connected(within: 15))
    }

    @Test(arguments: [FrameEncoding.json, .binary])
    func aPersistentDeviceRefreshesShortTokensOnOneConnectionThatKeepsWorking(encoding: FrameEncoding) async throws {
        let started = try await start("refreshing-\(encoding)", ttl: .seconds(5), edge: 0, encoding: encoding)
        let (persistent, watch, tokens) = (started.persistent, started.watch, started.tokens)
        let firstExpiry = try #require(persistent.tokenExpiresAt)

        // An echo round trip every second until three refreshes went through (a 5 s token is refreshed about 1 s
        // before its exp, so about every 4 s).
        // Each round trip notes how many refreshes preceded it: the connection must work between every two refreshes
        // and after the last, however slow a loaded machine makes each round trip.
        let deadline = Date().addingTimeInterval(40)
        var refreshesSeenByEchoes: Set<Int> = []
        while persistent.refreshes < 3 && Date() < deadline {
            let before = persistent.refreshes
            try await started.echo(#"{"n":\#(refreshesSeenByEchoes.count)}"#)
            refreshesSeenByEchoes.insert(before)
            try await Task.sleep(for: .seconds(1))
        }
        let after = persistent.refreshes
        try await started.echo(#"{"after":\#(after)}"#)
        refreshesSeenByEchoes.insert(after)
        #expect(persistent.refreshes >= 3, "refreshes: \(persistent.refreshes), last failure: \(persistent.tokenFailure ?? "none")")
        #expect(persistent.connections == 1)
        #expect(await watch.sessions == [started.session], "one connection throughout")
        #expect(await watch.disconnects.isEmpty)
        #expect(try #require(persistent.tokenExpiresAt) >= firstExpiry + 10, "the connection's expiry moved on")
        // Before the first and after the last; between them as the machine allows (one slow echo may span several).
        #expect(refreshesSeenByEchoes.contains(0) && refreshesSeenByEchoes.contains(after),
                "round trips after \(refreshesSeenByEchoes.sorted()) refreshes")
        // One token per hello and per refresh (a next refresh may be under way).
        let calls = await tokens.calls
        #expect(calls >= 1 + persistent.refreshes && calls <= 2 + persistent.refreshes, "\(calls) tokens asked for")
        await persistent.stop()
    }

    @Test func aDeviceWhoseTokenCallbackFailsIsClosedWith4008AndComesBackOnceItWorks() async throws {
        let started = try await start("callback-fails", ttl: .seconds(5), edge: 1)
        let (persistent, watch, tokens) = (started.persistent, started.watch, started.tokens)
        await tokens.fail(true)

        // The edge's grace after exp is 2 s in the test cluster, 10 s by default.
        let code = try await watch.disconnected(within: 25)
        #expect(code == CloseCode.tokenExpired.rawValue)
        #expect(persistent.tokenFailure?.contains("the token service is down") == true, "\(persistent.tokenFailure ?? "none")")
        // Still failing: the callback is asked again with backoff (1 s doubling), not in a loop.
        try await Task.sleep(for: .seconds(4))
        let whileFailing = await tokens.calls
        #expect(whileFailing <= 12, "\(whileFailing) calls of a failing callback")
        #expect(persistent.client == nil, "no connection without a token")

        await tokens.fail(false)
        let second = try await watch.connected(within: 40)
        #expect(second != started.session)
        #expect(persistent.connections == 2)
        try await started.echo(#"{"back":true}"#)
        await persistent.stop()
    }

    @Test func aRevokedTokenIsReplacedFromTheCallbackAndTheDeviceReconnects() async throws {
        let started = try await start("client-revoked", ttl: .seconds(600), edge: 0)
        let device = started.tokens.device

        // Every token of the device issued until now (tokens minted in this same second too).
        let now = Int64(Date().timeIntervalSince1970)
        let store = RevocationStore(redis: try await TestRedis.standalone.keyspace(), keys: RedisKeys(prefix: "cg"))
        try await store.set(Revocation(target: .device(device), issuedBefore: now, until: now + 120,
                                       reason: "ClientRefreshTests", createdAt: now))
        #expect(try await started.watch.disconnected(within: 10) == CloseCode.revoked.rawValue)
        // A token minted within the revocation's second is refused at hello (4001) and a later one is asked for.
        let second = try await started.watch.connected(within: 20)
        #expect(second != started.session)
        try await started.echo(#"{"after":"revocation"}"#)
        await started.persistent.stop()
    }

    @Test func aFixedTokenIsNotRefreshedAndTheDeviceStopsWhenItExpires() async throws {
        let device = TestCluster.uniqueDevice("fixed-token")
        let persistent = PersistentDevice(device: device, urls: [try await TestCluster.shared.edgeURL(1)],
                                          token: try await TestCluster.token(device, ttl: .seconds(10)))
        let watch = DeviceWatch(persistent)
        persistent.start()
        // 10 s leaves room for a slow hello on a loaded machine: a token that expired first is refused with 4001.
        _ = try await watch.connected(within: 15)
        #expect(try await watch.disconnected(within: 30) == CloseCode.tokenExpired.rawValue)
        #expect(try await watch.stopped(within: 5) == "closed with 4008")
        #expect(persistent.refreshes == 0)
        #expect(persistent.connections == 1)
    }

    @Test func deviceClientRefreshReturnsTheNewExpiryAndARefusedOneLeavesTheConnectionOpen() async throws {
        let device = TestCluster.uniqueDevice("client-refresh")
        let client = try await DeviceClient.connect(to: try await TestCluster.shared.edgeURL(0), encoding: .binary)
        let welcome = try await client.hello(device: device, token: try await TestCluster.token(device, ttl: .seconds(60)))
        let first = try #require(welcome.tokenExpiresAt)
        #expect(client.tokenExpiresAt == first)

        let expiresAt = try await client.refresh(token: try await TestCluster.token(device, ttl: .seconds(600)))
        #expect(expiresAt >= first + 500)
        #expect(client.tokenExpiresAt == expiresAt)

        await #expect(throws: DeviceClient.Failure.self) {
            try await client.refresh(token: try await TestCluster.token("someone-else", ttl: .seconds(600)))
        }
        do {
            try await client.refresh(token: "not a token")
            Issue.record("a malformed token was accepted")
        } catch DeviceClient.Failure.refused(let error) {
            #expect(error.code == .authFailed)
            #expect(error.ref == "refresh")
        }
        #expect(client.tokenExpiresAt == expiresAt, "refused refreshes change nothing")
        try await client.send(service: "echo", json: #"{"still":"open"}"#)
        #expect(try await client.nextMessage().service == "echo")
        await client.close()
        await #expect(throws: DeviceClient.Failure.self) { try await client.refresh(token: "after close") }
    }
}

/// The app's token callback: mints a token that lives `ttl`, or throws while told to fail; counts its calls.
actor TokenSource {
    struct Down: Error, CustomStringConvertible {
        var description: String { "the token service is down" }
    }

    let device: String
    let ttl: Duration
    private(set) var calls = 0
    private var failing = false

    init(device: String, ttl: Duration) {
        self.device = device
        self.ttl = ttl
    }

    func fail(_ on: Bool) { failing = on }

    func next() async throws -> String {
        calls += 1
        if failing { throw Down() }
        return try await TestCluster.token(device, ttl: ttl)
    }
}

/// What a ``PersistentDevice`` reported, read as it comes.
actor DeviceWatch {
    private(set) var sessions: [String] = []
    private(set) var disconnects: [UInt16?] = []
    private var stoppedReason: String?
    private var messageIDs: Set<String> = []
    /// Events not yet taken by ``connected(within:)``, ``disconnected(within:)`` or ``stopped(within:)``.
    private var unread: [PersistentDevice.Event] = []

    init(_ device: PersistentDevice) {
        Task { for await event in device.events { await self.record(event) } }
        Task { for await message in device.messages { await self.record(message) } }
    }

    private func record(_ event: PersistentDevice.Event) {
        switch event {
        case .connected(_, let session): sessions.append(session)
        case .disconnected(let code): disconnects.append(code)
        case .stopped(let reason): stoppedReason = reason
        case .topicRefused: break
        }
        unread.append(event)
    }

    private func record(_ message: Message) { messageIDs.insert(message.id) }

    /// Takes events up to the first that `matches` and returns what `matches` made of it.
    private func take<T: Sendable>(within seconds: Double, _ what: String, _ matches: (PersistentDevice.Event) -> T?) async throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            while !unread.isEmpty {
                if let found = matches(unread.removeFirst()) { return found }
            }
            guard Date() < deadline else { throw TimedOut(what: what, seconds: seconds) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The session of the next connection.
    func connected(within seconds: Double) async throws -> String {
        try await take(within: seconds, "a connection") { if case .connected(_, let session) = $0 { session } else { nil } }
    }

    /// The close code of the next disconnection (0 for none).
    func disconnected(within seconds: Double) async throws -> UInt16 {
        try await take(within: seconds, "a disconnection") { if case .disconnected(let code) = $0 { code ?? 0 } else { nil } }
    }

    func stopped(within seconds: Double) async throws -> String {
        try await take(within: seconds, "the stop") { if case .stopped(let reason) = $0 { reason } else { nil } }
    }

    func message(_ id: String, within seconds: Double) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !messageIDs.contains(id) {
            guard Date() < deadline else { throw TimedOut(what: "message \(id)", seconds: seconds) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
