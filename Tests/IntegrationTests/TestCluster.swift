import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Lifecycle
import Shared
import Testing

/// Which Redis a test's cluster runs on: tests of what must work on both take it as an argument.
enum TestRedis: String, CaseIterable, Sendable, CustomStringConvertible {
    /// One redis-server (``TestCluster/shared``).
    case standalone
    /// A Redis Cluster of three primaries with a replica each (``TestCluster/onRedisCluster``).
    case cluster

    var description: String { rawValue }

    /// The local cluster running on this Redis.
    var cluster: LocalCluster {
        get async throws {
            switch self {
            case .standalone: try await TestCluster.shared
            case .cluster: try await TestCluster.onRedisCluster
            }
        }
    }

    /// A client of this Redis, as the components connect to it.
    func keyspace() async throws -> any RedisKeyspace {
        let cluster = try await cluster
        let seeds = cluster.redisPorts.map { RedisEndpoint(port: $0) }
        let settings = RedisSettings(seeds: seeds, mode: self == .cluster ? .cluster : .standalone)
        let redis = settings.connect(logger: .init(label: "test-\(self)"))
        try redis.checkReachable()
        return redis
    }
}

/// One local cluster for the whole test run: Redis, Tansu, a router, two edges, the echo, push and presence services,
/// each a real `gateway` process on free ports. Started on first use; stopped when the test process exits. A second
/// one, on a Redis Cluster, runs the core stories again (``onRedisCluster``).
enum TestCluster {
    static let services = ["echo", "contract", "other", "push", "presence"]
    /// The push service's app-server key and rate (small, so a test can exceed it quickly).
    static let pushAPIKey = "test-push-key"
    static let pushRatePerMinute = 5
    /// Keys of `gateway api` (docs/api.md), one per single scope and one with all three, for the API tests.
    static let apiSendKey = "test-api-send-key-0123456789"
    static let apiReadKey = "test-api-read-key-0123456789"
    static let apiAdminKey = "test-api-admin-key-0123456789"
    static let apiAllKey = "test-api-all-scopes-key-0123456789"
    /// The API's body limit in the tests: small, so a 413 is cheap to provoke.
    static let apiMaxBodyBytes = 256 * 1024

    /// The running cluster, started on first use on a thread of its own (never on the cooperative pool).
    static var shared: LocalCluster {
        get async throws { try await starting.value }
    }

    private static let starting = Task { try await offload { try start() } }

    /// The same on a Redis Cluster (three primaries, a replica each); started on first use.
    static var onRedisCluster: LocalCluster {
        get async throws { try await startingOnRedisCluster.value }
    }

    private static let startingOnRedisCluster = Task { try await offload { try start(redisCluster: true) } }

    private static func start(redisCluster: Bool = false) throws -> LocalCluster {
        var options = LocalCluster.Options(gatewayExecutable: gatewayExecutable)
        options.edges = 2
        options.services = services
        options.presence = true
        options.logDirectory = NSTemporaryDirectory() + "channel-gateway-tests-\(getpid())" + (redisCluster ? "-redis-cluster" : "")
        options.logLevel = "info"
        options.push = true
        options.redisCluster = redisCluster
        options.pushArguments = ["--rate-per-minute", "\(pushRatePerMinute)", "--api-key", pushAPIKey]
        options.apiKeys = ["send:\(apiSendKey)", "read:\(apiReadKey)", "admin:\(apiAdminKey)", "send+read+admin:\(apiAllKey)"]
        options.apiArguments = ["--max-body-bytes", "\(apiMaxBodyBytes)"]
        // A short grace after a token's exp, and a second key beside the development one, for the token tests.
        let keys = options.logDirectory! + "-token-keys.json"
        try tokenKeysFile.write(toFile: keys, atomically: true, encoding: .utf8)
        options.edgeArguments = ["--token-grace", "\(tokenGraceSeconds)", "--token-keys", keys]
        let cluster = LocalCluster(options: options)
        let name = redisCluster ? "cluster on redis cluster" : "cluster"
        do {
            try cluster.start { print("[\(name)] \($0)") }
        } catch {
            cluster.stop()
            throw error
        }
        print("[\(name)] logs in \(options.logDirectory!)")
        return cluster
    }

    /// Seconds the edges let a connection outlive its token.
    static let tokenGraceSeconds = 2
    /// The edges' keys: the development key first (what ``token(_:services:ttl:)`` signs with), then `rotated`.
    static let rotatedKey = TokenKey(kid: "rotated", material: .hs256(secret: "a-second-test-key-for-revocation-tests-0123456789"))
    static var tokenKeysFile: String {
        #"{"keys":[{"kid":"dev","alg":"HS256","secret":"\#(TokenAuthority.developmentSecret)"},{"kid":"rotated","alg":"HS256","secret":"a-second-test-key-for-revocation-tests-0123456789"}]}"#
    }

    /// The `gateway` built next to this test bundle (`swift build` builds it; `swift test` builds it too).
    static var gatewayExecutable: String {
        guard let path = LocalCluster.gatewayNextToThisProcess() else { fatalError("no gateway executable: run `swift build` first") }
        return path
    }

    static var kafka: KafkaConfig {
        get async throws { try await kafka(on: .standalone) }
    }

    static func kafka(on redis: TestRedis) async throws -> KafkaConfig {
        KafkaConfig(bootstrapServers: try await redis.cluster.broker.bootstrap)
    }

    static func token(_ device: String, services: [String] = ["*"], ttl: Duration = .seconds(600)) async throws -> String {
        try await TokenAuthority(secret: TokenAuthority.developmentSecret).mint(device: device, services: services, ttl: ttl)
    }

    /// Connects `device` to edge `edge` (0-based) and says hello.
    static func connect(_ device: String, edge: Int, services: [String] = ["*"], autoAck: Bool = true,
                        encoding: FrameEncoding = .json, on redis: TestRedis = .standalone) async throws -> DeviceClient {
        let client = try await DeviceClient.connect(to: try await redis.cluster.edgeURL(edge), encoding: encoding)
        client.autoAck = autoAck
        _ = try await client.hello(device: device, token: try await token(device, services: services))
        return client
    }

    /// A device id no other test uses.
    static func uniqueDevice(_ name: String) -> String { "\(name)-\(UInt32.random(in: 0...UInt32.max))" }
}

extension DeviceClient {
    /// The next message from a service, waiting at most `seconds`.
    func nextMessage(within seconds: Double = 15) async throws -> Message {
        try await within(seconds, "a message") {
            for await message in self.messages { return message }
            throw DeviceClient.Failure.closed(code: nil)
        }
    }

    /// The next frame the edge sends (or the close), waiting at most `seconds`.
    func nextEvent(within seconds: Double = 10) async throws -> DeviceClient.Event {
        try await within(seconds, "a frame") {
            for await event in self.events { return event }
            return .closed(code: nil)
        }
    }
}

/// Publishes records as a backend would, on the downstream topic.
final class TestBackend: Sendable {
    let producer: KafkaProducer
    let topics = Topics(prefix: "cg")

    init(on redis: TestRedis = .standalone) async throws {
        producer = try KafkaProducer(config: try await TestCluster.kafka(on: redis), messageTimeout: .seconds(30), logger: .init(label: "test-backend"))
    }

    func send(to device: String, service: String = "echo", id: String, json: String, ttlSeconds: Int? = nil) async throws {
        var headers = [
            KafkaHeader(RecordHeader.device, device), KafkaHeader(RecordHeader.service, service),
            KafkaHeader(RecordHeader.messageID, id), KafkaHeader(RecordHeader.contentType, ContentType.json),
        ]
        if let ttlSeconds { headers.append(KafkaHeader(RecordHeader.ttl, String(ttlSeconds))) }
        _ = try await producer.send(OutgoingRecord(topic: topics.down, key: Array(device.utf8), value: Array(json.utf8),
                                                   headers: headers))
    }
}
