import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Logging
import Shared
import Testing

/// Operators' control of devices and edges, and the cluster's facts, on the shared test cluster's real edges, router,
/// Redis and Tansu (docs/handoff.md, "Operators' controls"; docs/redis-schema.md, "Edge stats" and "Router liveness
/// record"). Draining runs on an edge started for the test, never on the shared ones.
@Suite(.timeLimit(.minutes(3)))
struct EdgeControlTests {
    let keys = RedisKeys(prefix: "cg")

    func redis() async throws -> any RedisKeyspace { try await TestRedis.standalone.keyspace() }

    func control() async throws -> EdgeControl { EdgeControl(redis: try await redis(), keys: keys, secret: "") }

    /// `device` connected to shared edge `edge` (0-based), with the session of its welcome.
    func connect(_ device: String, edge: Int, on redis: TestRedis = .standalone) async throws -> (client: DeviceClient, session: String) {
        let client = try await DeviceClient.connect(to: try await redis.cluster.edgeURL(edge))
        let welcome = try await client.hello(device: device, token: try await TestCluster.token(device))
        return (client, welcome.session)
    }

    /// The frames `client` gets after its welcome until its connection closes, and the close code.
    func untilClosed(_ client: DeviceClient, within seconds: Double = 10) async throws -> (frames: [Frame], code: UInt16?) {
        var frames: [Frame] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            switch try await client.nextEvent(within: deadline.timeIntervalSinceNow) {
            case .frame(.welcome): continue
            case .frame(let frame): frames.append(frame)
            case .closed(let code): return (frames, code)
            default: continue
            }
        }
        throw TimedOut(what: "a close", seconds: seconds)
    }

    func eventually(_ what: String, within seconds: Double = 10, _ condition: @escaping @Sendable () async throws -> Bool) async throws {
        try await within(seconds, what) {
            while try await !condition() { try await Task.sleep(for: .milliseconds(100)) }
        }
    }

    @Test func aDisconnectClosesExactlyThatDeviceWithTheCodeAfterTheReconnectFrame() async throws {
        let target = TestCluster.uniqueDevice("disc"), bystander = TestCluster.uniqueDevice("disc-other")
        let (client, session) = try await connect(target, edge: 1)
        let (other, _) = try await connect(bystander, edge: 1)
        let outcome = try await control().disconnect(device: target, code: 4321, reconnectAfterMs: 2500)
        #expect(outcome == .disconnected(edge: "edge-2", session: session))
        let (frames, code) = try await untilClosed(client)
        #expect(frames == [.reconnect(delayMs: 2500)])
        #expect(code == 4321)
        // The other device on that edge is untouched and still works.
        _ = try await other.send(service: "echo", json: #"{"still":"here"}"#)
        #expect(try await other.nextMessage().service == "echo")
        await other.close()
    }

    @Test func theDefaultIs4010WithoutAReconnectFrame() async throws {
        let device = TestCluster.uniqueDevice("disc-default")
        let (client, session) = try await connect(device, edge: 0)
        #expect(try await control().disconnect(device: device) == .disconnected(edge: "edge-1", session: session))
        let (frames, code) = try await untilClosed(client)
        #expect(frames.isEmpty)
        #expect(code == CloseCode.disconnected.rawValue)
    }

    /// The Swift client's `PersistentDevice` waits the delay an operator's disconnect asks for, then comes back.
    @Test func aPersistentDeviceComesBackAfterTheDelayItWasGiven() async throws {
        let device = TestCluster.uniqueDevice("comes-back")
        let token = try await TestCluster.token(device)
        let persistent = PersistentDevice(device: device, urls: [try await TestCluster.shared.edgeURL(0)],
                                          minBackoff: .milliseconds(10), maxBackoff: .milliseconds(20), token: token)
        var events = persistent.events.makeAsyncIterator()
        persistent.start()
        guard case .connected(_, let session)? = await events.next() else { Issue.record("not connected"); return }
        let asked = ContinuousClock.now
        #expect(try await control().disconnect(device: device, reconnectAfterMs: 1500) == .disconnected(edge: "edge-1", session: session))
        #expect(await events.next() == .disconnected(code: CloseCode.disconnected.rawValue))
        guard case .connected(_, let again)? = await events.next() else { Issue.record("not connected again"); return }
        #expect(again != session)
        let waited = ContinuousClock.now - asked
        // Not before the delay; after it, as soon as a loaded machine connects (its backoff would be 10-20 ms).
        #expect(waited >= .milliseconds(1400) && waited < .seconds(15), "came back after \(waited), asked for 1.5 s")
        await persistent.stop()
    }

    @Test func aDeviceWithoutALiveRouteIsOffline() async throws {
        #expect(try await control().disconnect(device: TestCluster.uniqueDevice("never-here")) == .offline)
        // One that was here and left: its route is released.
        let device = TestCluster.uniqueDevice("left")
        let (client, _) = try await connect(device, edge: 0)
        await client.close()
        let registry = DeviceRegistry(redis: try await redis(), prefix: "cg")
        try await eventually("the route to be released") { try await registry.lookup(device: device) == .noRoute }
        #expect(try await control().disconnect(device: device) == .offline)
    }

    @Test(arguments: [UInt16(999), 1002, 1005, 1006, 1011, 1015, 3000, 3999, 5000, 65535])
    func codesAClientMayNotSeeAreRefusedBeforeAnythingIsSent(code: UInt16) async throws {
        let device = TestCluster.uniqueDevice("bad-code")
        let (client, _) = try await connect(device, edge: 0)
        await #expect(throws: EdgeControlError.closeCodeNotAllowed(code)) {
            try await control().disconnect(device: device, code: code)
        }
        await #expect(throws: EdgeControlError.reconnectDelayOutOfRange(3_600_001)) {
            try await control().disconnect(device: device, reconnectAfterMs: 3_600_001)
        }
        // Still connected: nothing was sent.
        _ = try await client.send(service: "echo", json: "1")
        #expect(try await client.nextMessage().service == "echo")
        await client.close()
    }

    @Test func aDisconnectAimedAtAReplacedSessionLeavesTheNewConnectionAlone() async throws {
        let device = TestCluster.uniqueDevice("replaced")
        let (old, oldSession) = try await connect(device, edge: 0)
        let (new, newSession) = try await connect(device, edge: 0)
        #expect(try await untilClosed(old).code == CloseCode.replaced.rawValue)
        let record = try #require(try await DeviceRegistry(redis: try await redis(), prefix: "cg").edgeRecord("edge-1"))
        let closed = try await control().disconnect(device: device, session: oldSession, on: "edge-1", at: record, code: 4010,
                                                    reconnectAfterMs: nil)
        #expect(!closed)
        // The new connection still works, and a disconnect of the device now closes it, by its own session.
        _ = try await new.send(service: "echo", json: "2")
        #expect(try await new.nextMessage().service == "echo")
        #expect(try await control().disconnect(device: device) == .disconnected(edge: "edge-1", session: newSession))
        #expect(try await untilClosed(new).code == CloseCode.disconnected.rawValue)
    }

    @Test func anEdgeThatRefusesTheHelloOrCannotBeReachedIsAnErrorAndClosesNothing() async throws {
        let device = TestCluster.uniqueDevice("refused")
        let (client, session) = try await connect(device, edge: 0)
        // The shared edges have no hand-off secret: a hello carrying one is refused before the request is read.
        let wrongSecret = EdgeControl(redis: try await redis(), keys: keys, secret: "not-this-installation's")
        await #expect(throws: HandoffExchangeError.self) { try await wrongSecret.disconnect(device: device) }
        await #expect(throws: HandoffExchangeError.self) { try await wrongSecret.drain(edge: "edge-1") }
        // A record naming edge-1 at edge-2's listener: edge-2 refuses a hello for another id.
        let registry = DeviceRegistry(redis: try await redis(), prefix: "cg")
        let elsewhere = try #require(try await registry.edgeRecord("edge-2"))
        do {
            _ = try await control().disconnect(device: device, session: session, on: "edge-1", at: elsewhere, code: 4010,
                                               reconnectAfterMs: nil)
            Issue.record("edge-2 took a request for edge-1")
        } catch let error as HandoffExchangeError {
            guard case .refused = error else { Issue.record("not refused: \(error)"); return }
        }
        // Nothing listens on this port.
        let nowhere = EdgeRecord(instance: "x", host: "127.0.0.1", port: try FreePort.next())
        do {
            _ = try await control().disconnect(device: device, session: session, on: "edge-1", at: nowhere, code: 4010,
                                               reconnectAfterMs: nil)
            Issue.record("a request went nowhere and succeeded")
        } catch let error as HandoffExchangeError {
            guard case .unreachable = error else { Issue.record("not unreachable: \(error)"); return }
        }
        _ = try await client.send(service: "echo", json: "3")
        #expect(try await client.nextMessage().service == "echo")
        await client.close()
    }

    /// On a Redis Cluster too, where the records live on different primaries: the sets of known ids find them all.
    @Test(arguments: TestRedis.allCases)
    func theOverviewListsBothEdgesWithTheirConnectionsAndTheRouter(on redisKind: TestRedis) async throws {
        let cluster = try await redisKind.cluster
        var clients: [DeviceClient] = []
        for i in 0..<3 { clients.append(try await connect(TestCluster.uniqueDevice("ov-\(i)"), edge: 0, on: redisKind).client) }
        clients.append(try await connect(TestCluster.uniqueDevice("ov-3"), edge: 1, on: redisKind).client)
        let redis = try await redisKind.keyspace()
        let overview = ClusterOverview(redis: redis, keys: keys, admin: nil)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        // The stats go out with each heartbeat, every 5 s here.
        try await eventually("both edges to report the devices", within: 12) {
            let edges = try await overview.edges()
            let one = edges.first { $0.id == "edge-1" }, two = edges.first { $0.id == "edge-2" }
            return (one?.connections ?? 0) >= 3 && (two?.connections ?? 0) >= 1
        }
        let edges = try await overview.edges().filter { cluster.edges.map(\.id).contains($0.id) }
        #expect(edges.map(\.id) == ["edge-1", "edge-2"])
        let registry = DeviceRegistry(redis: redis, prefix: "cg")
        for edge in edges {
            let record = try #require(try await registry.edgeRecord(edge.id))
            #expect(edge.alive && !edge.draining)
            #expect(edge.instance == record.instance && edge.address == "\(record.host):\(record.port)")
            let started = try #require(edge.startedAtMs)
            #expect(started <= now && started > now - 3_600_000)
        }
        let routers = try await overview.routers().filter(\.alive)
        #expect(routers.contains { $0.group == "cg-router" && ($0.startedAtMs ?? .max) <= now })
        #expect(routers.allSatisfy { $0.id.hasPrefix("router-") })
        for client in clients { await client.close() }
    }

    @Test func theRoutersConsumerGroupLagIsReported() async throws {
        let admin = try KafkaAdmin(config: try await TestCluster.kafka, logger: .init(label: "test-lag"))
        defer { admin.close() }
        let overview = ClusterOverview(redis: try await redis(), keys: keys, admin: admin)
        // A message for an offline device: the router stores it and commits, so its group has offsets on cg.down.
        try await TestBackend().send(to: TestCluster.uniqueDevice("lag"), id: "lag-1", json: "{}")
        try await eventually("the router's group to report cg.down", within: 20) {
            try await overview.consumerGroups().contains { $0.group == "cg-router" && $0.topic == "cg.down" }
        }
        let lag = try #require(try await overview.consumerGroups(["cg-router"]).first { $0.topic == "cg.down" })
        #expect(lag.partitions.map(\.partition) == Array(0..<Defaults.topicPartitions))
        #expect(lag.partitions.contains { $0.committed > 0 })
        #expect(lag.partitions.allSatisfy { $0.lag >= 0 && $0.end >= 0 })
        #expect(lag.lag == lag.partitions.reduce(0) { $0 + $1.lag })
    }

    @Test func aGroupsLagIsItsEndLessItsCommittedOffset() async throws {
        let kafka = try await TestCluster.kafka
        let logger = Logger(label: "test-lag")
        let topic = "cg-lag-test-\(UInt32.random(in: 0...UInt32.max))", group = "lag-test-\(UInt32.random(in: 0...UInt32.max))"
        let admin = try KafkaAdmin(config: kafka, logger: logger)
        defer { admin.close() }
        try await offload { try admin.createTopics([TopicSpec(name: topic, partitions: 1)]) }
        let producer = try KafkaProducer(config: kafka, messageTimeout: .seconds(30), logger: logger)
        // One record per produce, so that Tansu's end offset is exact (it counts record batches' base offsets).
        for i in 0..<10 {
            _ = try await producer.send(OutgoingRecord(topic: topic, key: nil, value: Array("\(i)".utf8)))
        }
        try await offload { producer.shutdownBlocking(timeout: .seconds(5)) }
        let consumer = try KafkaConsumer(config: kafka, groupID: group, logger: logger)
        defer { consumer.close() }
        try consumer.subscribe(topics: [topic])
        let firstFour = try await offload { () throws -> [KafkaRecord] in
            var records: [KafkaRecord] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while records.count < 4 && ContinuousClock.now < deadline {
                records += try consumer.poll(maxRecords: 4 - records.count, timeout: .milliseconds(500))
            }
            try consumer.commit(records)
            return records
        }
        #expect(firstFour.map(\.offset) == [0, 1, 2, 3])
        let lag = try await ClusterOverview(redis: try await redis(), keys: keys, admin: admin).consumerGroups([group])
        #expect(lag == [ConsumerGroupLag(group: group, topic: topic, partitions: [.init(partition: 0, committed: 4, end: 10, lag: 6)])])
    }

    @Test func aDrainedEdgeMovesItsDevicesAndExitsNormally() async throws {
        // 20 devices at 10 a second: the drain takes about 2 s, long enough to see it in the overview.
        let edge = try await EdgeProbe.startEdge("drain", ["--drain-rate", "10", "--drain-deadline", "20"])
        let id = "limits-drain-\(getpid())"
        var clients: [(device: String, client: DeviceClient)] = []
        for i in 0..<20 {
            let device = TestCluster.uniqueDevice("drained-\(i)")
            let client = try await DeviceClient.connect(to: edge.url)
            _ = try await client.hello(device: device, token: try await TestCluster.token(device))
            clients.append((device, client))
        }
        let overview = ClusterOverview(redis: try await redis(), keys: keys, admin: nil)
        #expect(try await control().drain(edge: id))
        try await eventually("the overview to show the edge draining", within: 2) {
            try await overview.edges().contains { $0.id == id && $0.draining }
        }
        for (_, client) in clients {
            let (frames, code) = try await untilClosed(client, within: 20)
            #expect(code == CloseCode.draining.rawValue)
            guard case .reconnect(let delay)? = frames.last else {
                Issue.record("no reconnect frame before 4005: \(frames)")
                continue
            }
            #expect((0..<1000).contains(delay))
        }
        try await within(25, "the drained edge to exit") {
            while edge.process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(edge.process.stop() == 0, "the edge exits normally after draining")
        #expect(try await !overview.edges().contains { $0.id == id }, "a stopped edge leaves the overview")
        #expect(try await control().drain(edge: id) == false)
        // Its devices come back on another edge, as after a reconnect frame they would.
        let registry = DeviceRegistry(redis: try await redis(), prefix: "cg")
        for (device, _) in clients.prefix(3) {
            let client = try await DeviceClient.connect(to: try await TestCluster.shared.edgeURL(0))
            _ = try await client.hello(device: device, token: try await TestCluster.token(device))
            guard case .online(let route) = try await registry.lookup(device: device) else {
                Issue.record("\(device) is not online after reconnecting")
                continue
            }
            #expect(route.edge == "edge-1")
            await client.close()
        }
    }
}
