import ChannelProtocol
import Foundation
import Infrastructure
import Lifecycle
import Logging
import Shared

/// Reads from the broker the part of the topic stream older than the edge's ``TopicLog``, for subscribers resuming
/// from further back; on a thread of its own, since librdkafka's reads block.
///
/// Guarantees: every request is answered exactly once (with the topic's entries in the range, or an error), on the
/// caller's `answer` closure, from this thread. Requests waiting at the same time whose ranges lie close together
/// are served by one read covering them all, so a reconnect storm resuming from similar positions costs a few reads,
/// not one per device; no read spans more than `maxRange` offsets, so memory stays bounded whatever is asked.
final class TopicReplayReader: @unchecked Sendable {
    struct Answer: Sendable {
        /// The topic's entries in the range, oldest first.
        var entries: [TopicEntry]
        /// The first offset the broker still has on the partition; what lies before it is lost.
        var low: Int64
    }

    struct Request: Sendable {
        var topic: String
        var partition: Int32
        /// The range of offsets wanted: `from` up to (not including) `until`.
        var from: Int64
        var until: Int64
        var answer: @Sendable (Result<Answer, any Error>) -> Void
    }

    private let consumer: KafkaConsumer
    private let stream: String
    private let condition = NSCondition()
    private var queue: [Request] = []
    private(set) var thread: DedicatedThread!

    /// The widest range of offsets one read covers (each request's own range must not be wider).
    let maxRange: Int64

    init(consumer: KafkaConsumer, stream: String, maxRange: Int64, logger: Logger) {
        self.consumer = consumer
        self.maxRange = maxRange
        self.stream = stream
        let condition = self.condition
        thread = DedicatedThread(name: "topic replay", logger: logger, wake: { condition.withLock { condition.broadcast() } }) { [unowned self] thread in
            serve(thread)
            consumer.close()
        }
    }

    func start() { thread.start() }

    func request(_ request: Request) {
        condition.withLock {
            queue.append(request)
            condition.signal()
        }
    }

    private func serve(_ thread: DedicatedThread) {
        while true {
            let batch: [Request] = condition.withLock {
                while queue.isEmpty && !thread.isStopRequested { condition.wait() }
                defer { queue = [] }
                return queue
            }
            if thread.isStopRequested {
                let stopped = KafkaError.closed("the edge is stopping")
                for request in batch { request.answer(.failure(stopped)) }
                return
            }
            for (partition, requests) in Dictionary(grouping: batch, by: \.partition) {
                var near: [Request] = []
                for request in requests.sorted(by: { $0.from < $1.from }) {
                    if let first = near.first, request.until - first.from > maxRange {
                        read(partition: partition, near)
                        near = []
                    }
                    near.append(request)
                }
                read(partition: partition, near)
            }
        }
    }

    private func read(partition: Int32, _ requests: [Request]) {
        let from = requests.map(\.from).min()!
        let until = requests.map(\.until).max()!
        do {
            let (records, low) = try consumer.readRange(topic: stream, partition: partition, from: from, until: until)
            var byTopic: [String: [TopicEntry]] = [:]
            let wanted = Set(requests.map(\.topic))
            for record in records {
                guard let entry = TopicFeed.entry(record), wanted.contains(entry.topic) else { continue }
                byTopic[entry.topic, default: []].append(entry)
            }
            for request in requests {
                let entries = (byTopic[request.topic] ?? []).filter {
                    $0.position.offset >= request.from && $0.position.offset < request.until
                }
                request.answer(.success(Answer(entries: entries, low: low)))
            }
        } catch {
            for request in requests { request.answer(.failure(error)) }
        }
    }
}
