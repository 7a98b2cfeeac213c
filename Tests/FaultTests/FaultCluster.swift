import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

/// A cluster of its own for one fault test (the test kills parts of it), and the devices and backend that drive it.
final class FaultCluster: @unchecked Sendable {
    let cluster: LocalCluster
    let producer: KafkaProducer

    static func start(_ name: String, routers: Int = 1, persistentRedis: Bool = false, redisCluster: Bool = false,
                      presence: Bool = false, edgeArguments: [String] = [], routerArguments: [String] = []) async throws -> FaultCluster {
        var options = LocalCluster.Options(gatewayExecutable: gatewayExecutable)
        options.edges = 2
        options.routers = routers
        options.persistentRedis = persistentRedis
        options.redisCluster = redisCluster
        options.presence = presence
        // The stalled-device scenario floods on purpose, to test backpressure rather than the rate limit.
        options.edgeArguments = ["--max-messages-per-second", "100000", "--message-burst", "100000"] + edgeArguments
        options.routerArguments = routerArguments
        options.logDirectory = NSTemporaryDirectory() + "channel-gateway-fault-\(name)-\(getpid())"
        let cluster = LocalCluster(options: options)
        do {
            try await offload { try cluster.start() }
        } catch {
            cluster.stop()
            throw error
        }
        print("[\(name)] logs in \(options.logDirectory!)")
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.broker.bootstrap), messageTimeout: .seconds(30), logger: .init(label: "backend"))
        return FaultCluster(cluster: cluster, producer: producer)
    }

    private init(cluster: LocalCluster, producer: KafkaProducer) {
        self.cluster = cluster
        self.producer = producer
    }

    func stop() {
        producer.shutdownBlocking(timeout: .seconds(2))
        cluster.stop()
    }

    static var gatewayExecutable: String {
        guard let path = LocalCluster.gatewayNextToThisProcess() else { fatalError("no gateway executable: run `swift build` first") }
        return path
    }

    /// Devices that stay connected (reconnecting to either edge) and record what they receive.
    /// Each device starts on `firstEdge`; after losing it, it tries the other edge and `extraURLs`, in an order that
    /// differs from device to device, so a drained edge's devices spread over the rest.
    func devices(_ count: Int, name: String, firstEdge: Int = 0, extraURLs: [String] = []) async throws -> [Receiver] {
        let others = [cluster.edgeURL(1 - firstEdge)] + extraURLs
        let authority = try await TokenAuthority(secret: TokenAuthority.developmentSecret)
        var receivers: [Receiver] = []
        for i in 0..<count {
            let id = "\(name)-\(i)"
            let token = try await authority.mint(device: id, services: ["*"], ttl: .seconds(3600))
            let urls = [cluster.edgeURL(firstEdge)] + others.indices.map { others[($0 + i) % others.count] }
            receivers.append(Receiver(PersistentDevice(device: id, urls: urls, minBackoff: .milliseconds(50), maxBackoff: .seconds(2)) { token }))
        }
        receivers.forEach { $0.start() }
        let all = receivers
        try await within(60, "\(count) devices to connect") {
            while all.contains(where: { $0.device.connections == 0 }) { try await Task.sleep(for: .milliseconds(50)) }
        }
        return receivers
    }

    /// Stops the broker now and lets it go on after `pause`, without waiting (publishing blocks while it is stopped).
    func pauseBroker(for pause: Duration) {
        let broker = cluster.broker.process
        broker.signal(SIGSTOP)
        Task.detached {
            try? await Task.sleep(for: pause)
            broker.signal(SIGCONT)
        }
    }

    /// A cluster client of the Redis Cluster (``LocalCluster/Options/redisCluster``).
    func redisClusterClient() throws -> RedisClusterClient {
        let redis = try #require(cluster.redisCluster)
        return RedisClusterClient(seeds: redis.ports.map { RedisEndpoint(port: $0) }, logger: .init(label: "fault-redis"))
    }

    /// Every router and edge and the echo service still run, and each answers `/readyz` 200 within 30 s.
    func expectEveryComponentRunningAndReady() async throws {
        for component in cluster.routers + cluster.edges.map(\.process) + [cluster.echoService].compactMap({ $0 }) {
            #expect(component.isRunning, "\(component.name) kept running")
        }
        for name in ["edge-1", "edge-2", "router-1", "echo"] {
            try await AdminProbe.waitFor(try #require(cluster.adminURL(name)) + "/readyz", status: 200, within: 30)
        }
    }

    /// The routes in Redis of the receivers that are online (the edge holding each, and when it claimed it).
    func routes(of receivers: [Receiver]) async throws -> [DeviceRoute] {
        let redis = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: cluster.redis.port), logger: .init(label: "routes"))
        defer { redis.close() }
        let registry = DeviceRegistry(redis: redis, prefix: "cg")
        var routes: [DeviceRoute] = []
        for receiver in receivers {
            if case .online(let route) = try await registry.lookup(device: receiver.device.device) { routes.append(route) }
        }
        return routes
    }

    /// Publishes one message per device on the downstream topic, as a backend would; returns when all are in Kafka.
    /// One task and delivery callbacks rather than a task per record, so the test process stays responsive.
    func publish(round: Int, to receivers: [Receiver]) async throws {
        let records = receivers.map { receiver in
            let device = receiver.device.device
            return OutgoingRecord(
                topic: "cg.down", key: Array(device.utf8), value: Array("\(round)".utf8),
                headers: [KafkaHeader(RecordHeader.device, device), KafkaHeader(RecordHeader.service, "echo"),
                          KafkaHeader(RecordHeader.messageID, "n-\(round)"),
                          KafkaHeader(RecordHeader.contentType, ContentType.json)])
        }
        let producer = self.producer
        let results = try await offload { producer.sendAllBlocking(records, within: .seconds(60)) }
        for result in results { _ = try result.get() }
    }
}

/// One device's view: the ids it got, in the order it first got them.
final class Receiver: @unchecked Sendable {
    let device: PersistentDevice
    private let lock = NSLock()
    private var ids: [String] = []
    private var task: Task<Void, Never>?

    init(_ device: PersistentDevice) {
        self.device = device
    }

    func start() {
        device.start()
        task = Task { for await message in device.messages { lock.withLock { ids.append(message.id) } } }
    }

    var received: [String] { lock.withLock { ids } }

    func stop() async {
        await device.stop()
    }
}

/// Waits until every receiver has `rounds` messages, then checks order and loss and prints the summary line.
func expectAllDelivered(_ receivers: [Receiver], rounds: Int, scenario: String, within seconds: Double = 90) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline && receivers.contains(where: { $0.received.filter { $0.hasPrefix("n-") }.count < rounds }) {
        try await Task.sleep(for: .milliseconds(100))
    }
    let expected = (0..<rounds).map { "n-\($0)" }
    let sent = receivers.count * rounds
    let delivered = receivers.reduce(0) { $0 + Set($1.received).intersection(expected).count }
    let duplicated = receivers.reduce(0) { $0 + $1.device.duplicatesDropped }
    let outOfOrder = receivers.filter { r in
        let downstream = r.received.filter { $0.hasPrefix("n-") }
        return downstream != Array(expected.prefix(downstream.count))
    }.count
    print("fault \(scenario): sent \(sent), delivered \(delivered), duplicated \(duplicated) (same id, dropped by the client), lost \(sent - delivered), devices out of order \(outOfOrder)")
    #expect(delivered == sent, "\(scenario): \(sent - delivered) messages lost")
    #expect(outOfOrder == 0, "\(scenario): some devices got messages out of order")
}
