import Infrastructure
import Logging
import ServiceKit
import ServiceLifecycle
import Shared

/// The example backend: every message a device sends to service `echo` comes back to that device, written on the
/// service SDK (``ChannelService``).
///
/// Each reply has the same payload and content type, the id `echo-<original id>` and an `in-reply-to` header; it is
/// durable in Kafka before the device message's offset is committed, so a crash repeats replies (same ids) rather than
/// losing them.
public final class EchoService: Service, @unchecked Sendable {
    public static let service = "echo"

    private let channel: ChannelService

    public init(topics: Topics, kafka: KafkaConfig, logger: Logger) {
        channel = ChannelService(name: Self.service, topics: topics, kafka: kafka, logger: logger)
    }

    public var isAssigned: Bool { channel.isAssigned }

    /// The service's Kafka producer, once started: for its readiness check and metrics.
    public var kafkaProducers: [(name: String, producer: KafkaProducer)] { channel.kafkaProducers }

    public func start() throws {
        try channel.start { message, outbox in
            outbox.reply(to: message, id: "echo-\(message.id)", payload: message.payload)
        }
    }

    /// Runs until the group's graceful shutdown; then finishes the batch in hand and leaves the group.
    public func run() async throws { try await channel.run() }
}
