import ChannelProtocol
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceKit
import Shared

/// Carries out one push whose head and body passed the HTTP checks: asks Redis whether the subscription may receive
/// it, then writes it to `<prefix>.down` for the subscription's device. Carries out publishes to topics too: one
/// record on `<prefix>.topics`, from service `push`.
///
/// Guarantees: the answer is 201 only after ``ChannelService/send(to:id:payload:ttl:)`` (or
/// ``ChannelService/publish(topic:payload:id:)``) returned, so the message is durable in Kafka; from then on the
/// gateway delivers a push at least once until its TTL runs out, always with the same channel id
/// `push-n-<message id>`. Redis or Kafka failures answer 503 with `Retry-After`; nothing here blocks.
final class PushEndpoint: PushCarrier {
    private let channel: ChannelService
    private let store: SubscriptionStore
    private let ratePerMinute: Int
    private let metrics: PushMetrics
    private let logger: Logger
    /// Set once the channel service (and so its producer) runs; pushes before that get 503.
    private let started = NIOLockedValueBox(false)

    init(channel: ChannelService, store: SubscriptionStore, ratePerMinute: Int, metrics: PushMetrics, logger: Logger) {
        self.channel = channel
        self.store = store
        self.ratePerMinute = ratePerMinute
        self.metrics = metrics
        self.logger = logger
    }

    /// The channel service has started: pushes may now be written to Kafka.
    func markStarted() { started.withLockedValue { $0 = true } }

    func push(_ request: PushRequest, payload: [UInt8]) async -> PushResponse {
        guard started.withLockedValue({ $0 }) else { return .error(.unavailable("the push service (starting)", retryAfter: 1)) }
        let began = ContinuousClock.now
        let authorization: PushAuthorization
        do {
            authorization = try await store.authorize(subscription: request.subscription, ratePerMinute: ratePerMinute)
        } catch {
            logger.warning("push: Redis check failed: \(error)")
            return .error(.unavailable("Redis", retryAfter: 2))
        }
        let device: String, label: String?
        switch authorization {
        case .unknown: return .error(.notFound)
        case .gone: return .error(.gone)
        case .limited(let retryAfter): return .error(.rateLimited(retryAfter: retryAfter, limit: ratePerMinute))
        case .deliver(let to, let name): (device, label) = (to, name)
        }
        let messageID = SubscriptionID.newRandom()
        let body = PushMessages.notification(subscription: request.subscription, label: label, request: request, payload: payload)
        // TTL 0 means "only if the device is connected now"; the router treats 0 as already expired, so the record
        // says 1 s: a connected device gets it at once, an offline one never does.
        let ttl = Duration.seconds(max(1, request.ttlSeconds))
        do {
            try await channel.send(to: device, id: PushMessages.notificationID(for: messageID), payload: .json(body.bytes), ttl: ttl)
        } catch {
            logger.warning("push: Kafka did not take the message: \(error)")
            return .error(.unavailable("Kafka", retryAfter: 5))
        }
        metrics.accepted.record(duration: ContinuousClock.now - began)
        return .created(messageID: messageID, ttlSeconds: request.ttlSeconds)
    }

    func publish(_ request: TopicPublishRequest, payload: [UInt8]) async -> PushResponse {
        guard started.withLockedValue({ $0 }) else { return .error(.unavailable("the push service (starting)", retryAfter: 1)) }
        let began = ContinuousClock.now
        let position: TopicPosition
        do {
            position = try await channel.publish(topic: request.topic, payload: request.payload(payload))
        } catch {
            logger.warning("push: Kafka did not take the message to topic \(request.topic): \(error)")
            return .error(.unavailable("Kafka", retryAfter: 5))
        }
        metrics.published.record(duration: ContinuousClock.now - began)
        return .published(topic: request.topic, position: position)
    }
}
