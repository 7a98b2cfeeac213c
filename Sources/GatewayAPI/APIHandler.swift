import APIContract
import ChannelProtocol
import Infrastructure
import Logging
import OpenAPIRuntime
import Shared

/// The operations of docs/openapi.yaml (the generated `APIProtocol`), over Kafka and Redis.
///
/// Guarantees: a handler never throws: Redis or Kafka failures answer 503 `unavailable` with `Retry-After`, bad
/// input 400 with the rule it broke. Handlers run only after ``AccessMiddleware`` checked the key's scope.
struct APIHandler: APIProtocol {
    let topics: Topics
    let producer: KafkaProducer
    let redis: any RedisKeyspace
    let registry: DeviceRegistry
    let mailbox: Mailbox
    let idempotency: IdempotencyStore
    let control: EdgeControl
    let receipts: ReceiptStore
    let overview: ClusterOverview
    /// The services a send may name (the edges' catalog).
    let services: Set<String>
    let metrics: APIMetrics
    let logger: Logger

    init(topics: Topics, producer: KafkaProducer, redis: any RedisKeyspace, services: Set<String>, handoffSecret: String,
         kafkaAdmin: KafkaAdmin?, metrics: APIMetrics, logger: Logger) {
        self.topics = topics
        self.producer = producer
        self.redis = redis
        registry = DeviceRegistry(redis: redis, prefix: topics.prefix)
        mailbox = Mailbox(redis: redis, prefix: topics.prefix)
        idempotency = IdempotencyStore(redis: redis, prefix: topics.prefix)
        receipts = ReceiptStore(redis: redis, keys: RedisKeys(prefix: topics.prefix))
        control = EdgeControl(redis: redis, keys: RedisKeys(prefix: topics.prefix), secret: handoffSecret)
        overview = ClusterOverview(redis: redis, keys: RedisKeys(prefix: topics.prefix), admin: kafkaAdmin)
        self.services = services
        self.metrics = metrics
        self.logger = logger
    }

    func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws -> Operations.GetOpenAPIDocument.Output {
        .ok(.init(body: .yaml(HTTPBody(APIDocument.bytes))))
    }

    /// The device's id from the path, or the 400 message.
    static func checked(device: String) -> String? {
        FieldRules.isDeviceID(device) ? nil : "device: not a device id (1 to 128 bytes, no control characters)"
    }

    func getDevice(_ input: Operations.GetDevice.Input) async throws -> Operations.GetDevice.Output {
        let device = input.path.device
        if let problem = Self.checked(device: device) { return .badRequest(.because(problem)) }
        return await answeringRedisFailure("device status of a device", Operations.GetDevice.Output.serviceUnavailable) {
            async let lookup = registry.lookup(device: device)
            async let summary = mailbox.summary(device: device)
            let mailbox = try await summary
            var status = Components.Schemas.DeviceStatus(device: device, online: false, mailbox: .init(
                count: mailbox.count, bytes: mailbox.bytes,
                oldest: mailbox.oldest.map { .init(id: $0.id, service: $0.service, seq: $0.seq, expiresAt: $0.expiresAtMs) }))
            if case .online(let route) = try await lookup {
                status.online = true
                status.edge = route.edge
                status.session = route.session
                status.since = route.sinceMs
            }
            return .ok(.init(body: .json(status)))
        }
    }

    /// Runs `body`; a failure of Redis is logged as `what` and answered 503 `unavailable` through `unavailable`.
    func answeringRedisFailure<Output>(_ what: String, _ unavailable: (Components.Responses.Unavailable) -> Output,
                                       _ body: () async throws -> Output) async -> Output {
        do {
            return try await body()
        } catch {
            logger.warning("api: \(what) failed: \(error)")
            return unavailable(.failed("Redis did not answer"))
        }
    }
}
