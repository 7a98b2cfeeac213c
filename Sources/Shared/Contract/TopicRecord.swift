import ChannelProtocol
import Infrastructure

/// A record of `<prefix>.topics`: one message published to a device topic (docs/kafka-contract.md, "Topic records").
///
/// Guarantees: ``init(record:)`` accepts only what an edge may deliver: a key that is a topic name (``TopicRules``) and
/// a `service` header that is a service name; anything else is nil. ``record(topics:)`` writes key = topic, value =
/// the payload, the headers `service` and `content-type` (and `id` when set), and ``init(record:)`` reads back what it
/// wrote. Records are keyed by topic so that, with the murmur2 partitioner every Kafka client offers (Java's default,
/// librdkafka's `murmur2_random`), one topic lives on one partition and its positions only grow.
public struct TopicRecord: Sendable, Equatable {
    public var topic: String
    /// The publishing service; devices see it as the event's `from`.
    public var service: String
    public var contentType: String
    /// The publisher's message id, for its own bookkeeping; edges do not use it.
    public var id: String?
    public var payload: [UInt8]

    public init(topic: String, service: String, contentType: String, id: String? = nil, payload: [UInt8]) {
        self.topic = topic
        self.service = service
        self.contentType = contentType
        self.id = id
        self.payload = payload
    }

    /// The record to produce on `topics.topicStream`.
    public func record(topics: Topics) -> OutgoingRecord {
        var headers = [KafkaHeader(RecordHeader.service, service), KafkaHeader(RecordHeader.contentType, contentType)]
        if let id { headers.append(KafkaHeader(RecordHeader.messageID, id)) }
        return OutgoingRecord(topic: topics.topicStream, key: Array(topic.utf8), value: payload, headers: headers)
    }

    /// The message in a consumed topic record, or nil when the record breaks the contract.
    public init?(record: KafkaRecord) {
        guard let key = record.key, case let topic = String(decoding: key, as: UTF8.self), TopicRules.isTopicName(topic),
              let service = record.headerString(RecordHeader.service), FieldRules.isServiceName(service) else {
            return nil
        }
        let contentType = record.headerString(RecordHeader.contentType)
            ?? (JSONScanner.isValidValue(record.value) ? ContentType.json : ContentType.binary)
        self.init(topic: topic, service: service, contentType: contentType,
                  id: record.headerString(RecordHeader.messageID), payload: record.value)
    }

    /// The producer properties every publisher of topic records should use: murmur2 keeps a topic on the partition
    /// other clients (Java's default partitioner) put it on.
    public static let producerProperties = ["partitioner": "murmur2_random"]
}
