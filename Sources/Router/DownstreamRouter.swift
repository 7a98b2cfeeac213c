import Logging
import Shared

/// Routes one batch of downstream records: finds each device's edge in Redis and forwards the record to that edge's
/// inbox topic, unchanged (key, value and headers).
///
/// Guarantees: `route` returns only when every forwarded record has its delivery report, so the caller can commit
/// the batch (at-least-once). Records keep their order per device, because they are forwarded in batch order. A
/// record without a message id gets one derived from its position (`<partition>-<offset>`), so redeliveries of it
/// carry the same id.
final class DownstreamRouter: @unchecked Sendable {
    struct Outcome: Equatable {
        var forwarded = 0
        var offline = 0
        var invalid = 0
    }

    private let topics: Topics
    private let registry: DeviceRegistry
    private let producer: KafkaProducer
    private let logger: Logger

    init(topics: Topics, registry: DeviceRegistry, producer: KafkaProducer, logger: Logger) {
        self.topics = topics
        self.registry = registry
        self.producer = producer
        self.logger = logger
    }

    /// Routes `records`; throws if a lookup or a forward failed, in which case none of the batch may be committed.
    func route(_ records: [KafkaRecord]) throws -> Outcome {
        var outcome = Outcome()
        var addressed: [(record: KafkaRecord, device: String)] = []
        for record in records {
            guard let key = record.key, case let device = String(decoding: key, as: UTF8.self), !device.isEmpty,
                  record.headerString(RecordHeader.service) != nil else {
                outcome.invalid += 1
                logger.warning("dropping \(record.topic)/\(record.partition)@\(record.offset): needs a device key and a service header (docs/kafka-contract.md)")
                continue
            }
            addressed.append((record, device))
        }
        let lookups = try registry.lookupBlocking(devices: addressed.map(\.device))
        var forwards: [OutgoingRecord] = []
        for ((record, device), lookup) in zip(addressed, lookups) {
            switch lookup {
            case .online(let route):
                var headers = record.headers
                if record.header(RecordHeader.messageID) == nil {
                    headers.append(KafkaHeader(RecordHeader.messageID, "\(record.partition)-\(record.offset)"))
                }
                forwards.append(OutgoingRecord(topic: topics.edgeInbox(route.edge), key: record.key,
                                               value: record.value, headers: headers))
            case .noRoute, .edgeDead:
                outcome.offline += 1
                logger.info("device \(device) is offline (\(lookup)); message \(record.headerString(RecordHeader.messageID) ?? "-") not delivered")
            }
        }
        let results = producer.sendAllBlocking(forwards)
        for result in results {
            if case .failure(let error) = result { throw error }
        }
        outcome.forwarded = forwards.count
        return outcome
    }
}
