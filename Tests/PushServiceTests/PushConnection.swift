import HTTPTestSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import PushService

/// Stands in for ``PushEndpoint`` (Redis and Kafka): keeps every push it is handed and accepts it with 201, its
/// message id counting up (`m1`, `m2`, …) so that a test sees which push each response answers.
actor RecordingCarrier: PushCarrier {
    private(set) var payloads: [String] = []
    private(set) var requests: [PushRequest] = []

    func push(_ request: PushRequest, payload: [UInt8]) -> PushResponse {
        requests.append(request)
        payloads.append(String(decoding: payload, as: UTF8.self))
        return .created(messageID: "m\(payloads.count)", ttlSeconds: request.ttlSeconds)
    }
}

/// Push API connections in-process, and the requests the tests send on them.
enum PushConnection {
    /// A subscription id of the right shape (the handler tests never reach Redis, so any well-formed one will do).
    static let subscription = "AbCdEfGhIjKlMnOpQrSt_-"

    /// A connected channel with NIO's server pipeline, as `PushHTTPServer` builds it (behind ``RealSocketWrites``), in front of a ``PushHTTPHandler``
    /// with `carrier`, 16-byte bodies and a 30 s request timeout.
    static func open(carrier: RecordingCarrier) async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        let config = PushHTTPConfig(policy: PushPolicy(maxPayloadBytes: 16), requestTimeout: .seconds(30))
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
