import APIContract
import Foundation
import Hummingbird
import HTTPTypes
import Infrastructure
import Lifecycle
import Logging
import NIOCore
import OpenAPIHummingbird
import ServiceKit
import ServiceLifecycle
import Shared

/// The HTTP API of `gateway api` (docs/api.md): the operations of docs/openapi.yaml on a Hummingbird server, behind
/// the body limit, CORS and the key check.
///
/// Guarantees: ``start()`` returns once the port is bound, so the process can say it is ready; every request is
/// answered by the generated server (through ``AccessMiddleware``) or, for an unknown path or an oversized body, with
/// the same JSON error body. Nothing blocks an event loop: Redis and Kafka are reached through their async APIs.
public final class APIServer: @unchecked Sendable {
    /// Settings of one API instance; the defaults are `gateway api`'s.
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8095
        public var keys: [APIKey] = []
        public var maxBodyBytes = 1 << 20
        public var corsOrigin = "*"
        /// The services a send may name.
        public var services: Set<String> = []
        /// The installation's hand-off secret, for disconnect and drain ("" when the edges run without one).
        public var handoffSecret = ""

        public init() {}
    }

    private let configuration: Configuration
    private let topics: Topics
    private let kafka: KafkaConfig
    private let redis: any RedisKeyspace & Service
    private let logger: Logger
    private var producer: KafkaProducer?
    private var admin: KafkaAdmin?
    private var application: (any Service)?
    /// The port bound, once ``start()`` returned.
    public private(set) var port: Int?

    public init(topics: Topics, kafka: KafkaConfig, redis: RedisSettings, configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.topics = topics
        self.kafka = kafka
        self.logger = logger
        self.redis = redis.connect(logger: logger)
    }

    /// The producer of sends and topic messages, once started: for the readiness check.
    public var kafkaProducers: [(name: String, producer: KafkaProducer)] { producer.map { [("api", $0)] } ?? [] }

    /// Checks the broker and creates the topics written to (on a thread of their own), makes the producer, then
    /// binds the HTTP port.
    public func start() async throws {
        let (kafka, topics, logger) = (self.kafka.forTopicPublishing, self.topics, self.logger)
        let (producer, admin) = try await offload {
            try Librdkafka.requireSupportedVersion()
            let admin = try KafkaAdmin(config: kafka, logger: logger)
            try admin.checkReachable()
            try admin.createTopics([TopicSpec(name: topics.down), TopicSpec(name: topics.topicStream)])
            // An HTTP caller waits for the broker's answer, so a record is given up after 5 s (503), not 5 minutes.
            // The admin client stays, for the cluster overview's consumer lag.
            return (try KafkaProducer(config: kafka, messageTimeout: KafkaProducer.timeoutInsideConsumer, logger: logger), admin)
        }
        self.producer = producer
        self.admin = admin
        let metrics = APIMetrics()
        let handler = APIHandler(topics: topics, producer: producer, redis: redis, services: configuration.services,
                                 handoffSecret: configuration.handoffSecret, kafkaAdmin: admin, metrics: metrics, logger: logger)
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: CORSMiddleware(allowOrigin: configuration.corsOrigin == "*" ? .all : .custom(configuration.corsOrigin),
                                              allowHeaders: [.authorization, .contentType, HTTPField.Name("Idempotency-Key")!],
                                              allowMethods: [.get, .post, .delete, .options],
                                              // A page needs Retry-After to back off after a 503.
                                              exposedHeaders: ["Retry-After"]))
        router.add(middleware: RequestGuard(maxBodyBytes: configuration.maxBodyBytes, metrics: metrics))
        try handler.registerHandlers(on: router, serverURL: URL(string: "/")!,
                                     middlewares: [AccessMiddleware(keys: configuration.keys, metrics: metrics, logger: logger)])
        let bound = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                bound.continuation.yield(channel.localAddress?.port ?? 0)
                bound.continuation.finish()
            },
            logger: logger)
        self.application = application
        // The application binds when it runs, in the process's service group; run it now and wait for the bind. A
        // failure to bind (the port taken) ends the wait too, and start() throws it instead of waiting forever.
        let runner = Task {
            defer { bound.continuation.finish() }
            try await application.run()
        }
        self.runner = runner
        var iterator = bound.stream.makeAsyncIterator()
        guard let port = await iterator.next() else {
            if case .failure(let error) = await runner.result { throw error }
            throw NotListening(host: configuration.host, port: configuration.port)
        }
        self.port = port
    }
    private var runner: Task<Void, any Error>?

    /// The HTTP server stopped before it was listening, without saying why.
    struct NotListening: Error, CustomStringConvertible {
        let host: String
        let port: Int
        var description: String { "the HTTP server stopped before it listened on \(host):\(port)" }
    }

    /// The started parts, in start order, for the process's one service group (empty before ``start()``): Redis, the
    /// producer, and the HTTP server, which stops first (finishing the requests in hand).
    public var services: [(name: String, service: any Service)] {
        guard let producer, let admin, let runner else { return [] }
        return [("redis", redis), ("api kafka admin", ShutdownStep("api kafka admin") { _ = try? await offload { admin.close() } }),
                ("api producer", ShutdownStep("api producer") { await producer.shutdown() }),
                ("api http", ShutdownStep("api http") {
                    runner.cancel()
                    _ = await runner.result
                })]
    }
}
