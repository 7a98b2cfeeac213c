import HTTPTestSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import PushService
import ServiceKit

/// Stands in for ``PushEndpoint`` (Redis and Kafka): keeps every push it is handed and accepts it with 201, its
/// message id counting up (`m1`, `m2`, …) so that a test sees which push each response answers.
actor RecordingCarrier: PushCarrier {
    private(set) var payloads: [String] = []
    private(set) var requests: [PushRequest] = []
    private(set) var publishes: [TopicPublishRequest] = []

    func push(_ request: PushRequest, payload: [UInt8]) -> PushResponse {
        requests.append(request)
        payloads.append(String(decoding: payload, as: UTF8.self))
        return .created(messageID: "m\(payloads.count)", ttlSeconds: request.ttlSeconds)
    }

    /// Accepts a publish at position `0:<number of bodies so far>`.
    func publish(_ request: TopicPublishRequest, payload: [UInt8]) -> PushResponse {
        publishes.append(request)
        payloads.append(String(decoding: payload, as: UTF8.self))
        return .published(topic: request.topic, position: TopicPosition(partition: 0, offset: Int64(payloads.count)))
    }
}

/// Push API connections in-process, and the requests the tests send on them.
enum PushConnection {
    /// A subscription id of the right shape (the handler tests never reach Redis, so any well-formed one will do).
    static let subscription = "AbCdEfGhIjKlMnOpQrSt_-"

    /// The topic API key of ``open(carrier:)``'s connections.
    static let topicKey = "topic-key"

    /// A connected channel with NIO's server pipeline, as `PushHTTPServer` builds it (behind ``RealSocketWrites``), in front of a ``PushHTTPHandler``
    /// with `carrier`, 16-byte bodies, the topic API key ``topicKey`` and a 30 s request timeout.
    static func open(carrier: RecordingCarrier) async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        let config = PushHTTPConfig(policy: PushPolicy(maxPayloadBytes: 16, topicAPIKeys: [topicKey]), requestTimeout: .seconds(30))
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(RealSocketWrites())
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(
                PushHTTPHandler(config: config, endpoint: carrier, metrics: PushMetrics()))
        }
        // Connected after the handlers are in, as a server's child channel is: the handler arms its first deadline.
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8088)).get()
        return channel
    }

    /// A request head (by default a push to ``subscription`` with a TTL) plus `headers`, without a body.
    static func head(_ headers: [String] = [], method: String = "POST", path: String = "/v1/push/\(PushConnection.subscription)") -> String {
        "\(method) \(path) HTTP/1.1\r\nHost: push.example\r\nTTL: 60\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
    }
}

extension PushConnection {
    /// A publish head to `topic` with the topic key, plus `headers`, without a body.
    static func publishHead(_ topic: String, _ headers: [String] = []) -> String {
        "POST /v1/topics/\(topic) HTTP/1.1\r\nHost: push.example\r\nAuthorization: Bearer \(topicKey)\r\n"
            + headers.map { $0 + "\r\n" }.joined() + "\r\n"
    }
}
