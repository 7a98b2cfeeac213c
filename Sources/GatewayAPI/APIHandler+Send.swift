import APIContract
import Foundation
import Infrastructure
import ServiceKit
import Shared

extension APIHandler {
    /// `POST /v1/messages`: one record per device on `<prefix>.down`, answered 201 once the broker acknowledged every
    /// one (docs/api.md, "Send"). With an Idempotency-Key the ids are derived (a retry writes the same ones) and the
    /// first answer is kept for 24 h.
    func sendMessages(_ input: Operations.SendMessages.Input) async throws -> Operations.SendMessages.Output {
        let began = ContinuousClock.now
        guard case .json(let request) = input.body else { return .badRequest(.because("the body must be application/json")) }
        let plan: SendPlan
        do { plan = try SendPlan(request, catalog: services) } catch { return .badRequest(.because(error.message)) }
        let fingerprint = APIAccess.caller?.fingerprint ?? "-"
        let idempotencyKey = input.headers.idempotencyKey
        if let idempotencyKey, !(1...128).contains(idempotencyKey.utf8.count)
            || !idempotencyKey.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return .badRequest(.because("Idempotency-Key: 1 to 128 visible ASCII characters"))
        }
        var claimed: (key: String, hash: String)?
        if let idempotencyKey {
            let key = idempotency.key(fingerprint: fingerprint, idempotencyKey: idempotencyKey)
            let hash = IdempotencyStore.hash(request)
            do {
                switch try await idempotency.claim(key, requestHash: hash) {
                case .claimed: claimed = (key, hash)
                case .inProgress:
                    return .conflict(.init(body: .json(APIError.body("idempotency_in_progress",
                                                                     "the first request with this Idempotency-Key is still being sent; retry in a second"))))
                case .conflict:
                    return .conflict(.init(body: .json(APIError.body("idempotency_conflict",
                                                                     "this Idempotency-Key was used with another body within 24 h"))))
                case .answered(let stored):
                    guard let answer = try? JSONDecoder().decode(Components.Schemas.SendResponse.self, from: Data(stored)) else {
                        return .serviceUnavailable(.failed("the stored answer of this Idempotency-Key is unreadable"))
                    }
                    return .created(.init(body: .json(answer)))
                }
            } catch {
                logger.warning("api: idempotency record failed: \(error)")
                return .serviceUnavailable(.failed("Redis did not answer"))
            }
        }
        let ids = plan.devices.map { SendPlan.messageID(device: $0, keyFingerprint: fingerprint, idempotencyKey: idempotencyKey) }
        do {
            try await produceAll(plan.records(ids: ids).map { $0.record(topics: topics) })
        } catch {
            logger.warning("api: Kafka did not take a send of \(plan.devices.count) records: \(error)")
            if let claimed { try? await idempotency.release(claimed.key) }
            return .serviceUnavailable(.failed("Kafka did not take every message (a retry with the same Idempotency-Key writes the same ids)", retryAfter: 5))
        }
        let answer = Components.Schemas.SendResponse(ttl: plan.ttl, messages: zip(plan.devices, ids).map { .init(device: $0, id: $1) })
        if let claimed, let bytes = try? JSONEncoder().encode(answer) {
            do { try await idempotency.finish(claimed.key, requestHash: claimed.hash, answer: Array(bytes)) } catch {
                // The messages are sent; a repeat finds the claim gone after a minute and sends the same ids again.
                logger.warning("api: keeping the answer of an idempotent send failed: \(error)")
            }
        }
        metrics.send.record(duration: ContinuousClock.now - began)
        return .created(.init(body: .json(answer)))
    }

    /// Enqueues every record at once and returns when the broker acknowledged all of them; throws the first failure.
    private func produceAll(_ records: [OutgoingRecord]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for record in records { group.addTask { _ = try await producer.send(record) } }
            try await group.waitForAll()
        }
    }

    /// `POST /v1/topics/{topic}/messages`: one record on `<prefix>.topics` from service `api`, as the push service's
    /// topic publish writes it (``TopicRecord``), answered once the broker has it.
    func publishToTopic(_ input: Operations.PublishToTopic.Input) async throws -> Operations.PublishToTopic.Output {
        guard case .json(let message) = input.body else { return .badRequest(.because("the body must be application/json")) }
        let topic = input.path.topic
        let payload: [UInt8], contentType: String
        do {
            (payload, contentType) = try SendPlan.payload(body: message.body, data: message.data, contentType: message.contentType)
            try InvalidTopicName.check(topic)
        } catch let refused as SendPlan.Refused {
            return .badRequest(.because(refused.message))
        } catch {
            return .badRequest(.because("topic: \(error)"))
        }
        let record = TopicRecord(topic: topic, service: Self.service, contentType: contentType, payload: payload)
        do {
            let delivery = try await producer.send(record.record(topics: topics))
            let position = TopicPosition(partition: delivery.partition, offset: delivery.offset)
            return .created(.init(body: .json(.init(topic: topic, position: position.description))))
        } catch {
            logger.warning("api: Kafka did not take a message to a topic: \(error)")
            return .serviceUnavailable(.failed("Kafka did not take the message", retryAfter: 5))
        }
    }

    /// The service devices see as `from` of topic messages published through the API.
    static let service = "api"
}
