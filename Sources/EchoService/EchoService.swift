import Foundation
import Logging
import Shared

/// The example backend: every message a device sends to service `echo` comes back to that device.
///
/// It uses only the Kafka contract (docs/kafka-contract.md): it consumes `<prefix>.up.echo` in its own consumer
/// group and publishes each reply to `<prefix>.down` with the device as key, the same payload and content type, the
/// id `echo-<original id>` and an `in-reply-to` header. Offsets are committed after the replies are delivered, so a
/// crash repeats replies (same ids) rather than losing them.
public final class EchoService: @unchecked Sendable {
    public static let service = "echo"

    private let topics: Topics
    private let kafka: KafkaConfig
    private let logger: Logger
    private var consumer: KafkaConsumer?
    private var producer: KafkaProducer?
    private var loop: ConsumerLoop?

    public init(topics: Topics, kafka: KafkaConfig, logger: Logger) {
        self.topics = topics
        self.kafka = kafka
        self.logger = logger
    }

    public var isAssigned: Bool { consumer?.hasAssignment ?? false }

    /// The reply to one device message, or nil for a record that breaks the contract.
    static func reply(to record: KafkaRecord, topics: Topics) -> OutgoingRecord? {
        guard let device = record.headerString(RecordHeader.device), let id = record.headerString(RecordHeader.messageID) else {
            return nil
        }
        return OutgoingRecord(
            topic: topics.down, key: Array(device.utf8), value: record.value,
            headers: [
                KafkaHeader(RecordHeader.device, device),
                KafkaHeader(RecordHeader.service, service),
                KafkaHeader(RecordHeader.messageID, "echo-\(id)"),
                KafkaHeader(RecordHeader.contentType, record.headerString(RecordHeader.contentType) ?? "application/octet-stream"),
                KafkaHeader(RecordHeader.inReplyTo, id),
            ])
    }

    public func start() throws {
        try Librdkafka.requireSupportedVersion()
        let admin = try KafkaAdmin(config: kafka, logger: logger)
        try admin.checkReachable()
        try admin.createTopics([TopicSpec(name: topics.up(Self.service)), TopicSpec(name: topics.down)])
        admin.close()
        let producer = try KafkaProducer(config: kafka, logger: logger)
        let consumer = try KafkaConsumer(config: kafka, groupID: "\(topics.prefix)-echo", logger: logger)
        try consumer.subscribe(topics: [topics.up(Self.service)])
        let topics = self.topics
        let logger = self.logger
        let loop = ConsumerLoop(name: "echo", consumer: consumer, logger: logger) { batch in
            let replies = batch.compactMap { Self.reply(to: $0, topics: topics) }
            if replies.count < batch.count { logger.warning("echo: \(batch.count - replies.count) records without device or id header skipped") }
            let failed = producer.sendAllBlocking(replies).filter { if case .failure = $0 { true } else { false } }
            guard failed.isEmpty else {
                // The whole batch again, in order: replies that did go out are sent twice, with the same ids.
                logger.warning("echo: \(failed.count) replies not delivered; the batch will be read again")
                Thread.sleep(forTimeInterval: 0.2)
                while (try? consumer.rewind(to: batch)) == nil {
                    logger.error("echo: cannot rewind to the failed batch, trying again")
                    Thread.sleep(forTimeInterval: 0.5)
                }
                return
            }
            try consumer.commit(batch)
        }
        self.consumer = consumer
        self.producer = producer
        self.loop = loop
        loop.start()
    }

    public func stop() {
        loop?.stop()
        consumer?.close()
        producer?.shutdown()
    }
}
