import ChannelProtocol
import Infrastructure
import Lifecycle
import Logging
import Shared

/// Reads the whole topic stream (`<prefix>.topics`, every partition, from its end at start-up) on a thread of its own,
/// keeps it in the ``TopicLog`` and hands each record to the event loops that hold subscribers of its topic.
///
/// Guarantees: a record is in the log before any loop is told of it, so a subscriber that reads the log and one
/// that is told live never miss a record between them (see `DeviceConnection+Topics.swift`). A record whose topic
/// no local device subscribes to costs one dictionary lookup and its place in the log. A record that breaks the
/// contract (``TopicRecord``) is skipped and counted.
final class TopicFeed: Sendable {
    private let thread: DedicatedThread
    let log: TopicLog

    init(consumer: KafkaConsumer, log: TopicLog, hub: TopicHub, metrics: EdgeMetrics, logger: Logger) {
        self.log = log
        thread = DedicatedThread(name: "topic feed", logger: logger) { thread in
            while !thread.isStopRequested {
                do {
                    let records = try consumer.poll(maxRecords: 1000, timeout: .milliseconds(100))
                    guard !records.isEmpty else { continue }
                    var entries: [TopicEntry] = []
                    entries.reserveCapacity(records.count)
                    var heads: [Int32: Int64] = [:]
                    for record in records {
                        heads[record.partition] = max(heads[record.partition] ?? 0, record.offset + 1)
                        if let entry = Self.entry(record) {
                            entries.append(entry)
                        } else {
                            metrics.topicRecordsRefused.increment()
                        }
                    }
                    log.append(entries, heads: heads)
                    metrics.topicRecords.increment(by: Int64(entries.count))
                    hub.dispatch(entries)
                } catch {
                    logger.warning("topic feed: \(error)")
                    thread.pause(for: .milliseconds(500))
                }
            }
            consumer.close()
        }
    }

    func start() { thread.start() }

    /// The feed's thread, for the edge's service group (it stops with it).
    var service: DedicatedThread { thread }

    /// The entry of a consumed record of the topic stream, or nil when it breaks the contract.
    static func entry(_ record: KafkaRecord) -> TopicEntry? {
        guard let message = TopicRecord(record: record) else { return nil }
        let event = TopicEvent(topic: message.topic, position: TopicPosition(partition: record.partition, offset: record.offset),
                               from: message.service, payload: Payload.from(bytes: message.payload, contentType: message.contentType))
        return TopicEntry(event: event, timestampMs: record.timestampMs)
    }
}
